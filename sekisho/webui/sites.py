"""Login sites (docs/features.md §1): each site serves the same UI for its own domains, recognised
by its host name and its URL prefix (the guide's ``/supw``). An address of another site's
domain is refused at login with the right site's address; a session opened on one site
does not carry over to another.

A request belongs to the site whose prefix its path is under, and when several sites
share that prefix (the guide's two sites are both at ``/supw``, on different hosts), to
the one whose host name it was sent to. A site without a prefix covers the host it names.
A shared prefix on a host none of them names, and the root of a host no site names, serve
every domain: one site, or a shared entry.

The sites come from the store (``login_sites``) on every request, so a site an operator
adds works at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import request
from sqlalchemy import select

from sekisho.sites import site_url
from sekisho.store.db import Store
from sekisho.store.models import LoginSite

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SITE = "sekisho.site"


@dataclass(frozen=True)
class SiteAddress:
    name: str
    host: str  # lower case, "" when the site names none
    prefix: str  # "/supw", "" for the root


def site_for(host: str, path: str, sites: Iterable[SiteAddress]) -> SiteAddress | None:
    """The site a request for ``host`` and ``path`` belongs to; None: it serves every domain.

    The longest prefix the path is under decides; among sites sharing it, the one named
    for ``host``. A site without a prefix covers only the host it names.
    """
    under = [
        site
        for site in sites
        if (path == site.prefix or path.startswith(site.prefix + "/"))
        and (site.prefix or (site.host and site.host == host))
    ]
    if not under:
        return None
    longest = max(len(site.prefix) for site in under)
    candidates = [site for site in under if len(site.prefix) == longest]
    named_here = [site for site in candidates if site.host and site.host == host]
    if named_here:
        return named_here[0]
    if len(candidates) == 1:
        return candidates[0]
    return SiteAddress("", "", candidates[0].prefix)  # a shared prefix no host decides


class LoginSites:
    """WSGI middleware: a path under a site's prefix runs with the prefix as SCRIPT_NAME,
    so every link the app builds stays on that site."""

    def __init__(self, app: WSGIApplication, sites: Callable[[], Iterable[SiteAddress]]) -> None:
        self._app = app
        self._sites = sites

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        path = environ.get("PATH_INFO", "")
        site = site_for(_host_name(environ), path, self._sites())
        if site is not None:
            if site.prefix:
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + site.prefix
                environ["PATH_INFO"] = path[len(site.prefix) :] or "/"
            environ[SITE] = site.name
        return self._app(environ, start_response)


def _host_name(environ: WSGIEnvironment) -> str:
    """The Host header without its port, lower case."""
    host = str(environ.get("HTTP_HOST", "")).lower()
    name, _, port = host.rpartition(":")
    return name if name and port.isdigit() and not host.endswith("]") else host


def login_sites(store: Store) -> Callable[[], list[SiteAddress]]:
    def load() -> list[SiteAddress]:
        with store.read() as session:
            return [site_address(site) for site in session.scalars(select(LoginSite))]

    return load


def site_address(site: LoginSite) -> SiteAddress:
    return SiteAddress(site.name, (site.host_name or "").lower(), site.url_prefix.rstrip("/"))


def current_site() -> str:
    """The name of the login site this request came in under; "" for every domain."""
    return str(request.environ.get(SITE, ""))


def login_url(site: LoginSite) -> str:
    here = request.host_url.rstrip("/") + site.url_prefix.rstrip("/")
    return (site_url(site) or here) + "/login"
