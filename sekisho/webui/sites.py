"""Login sites (SPEC.md §1): each site's URL prefix (the guide's ``/supw``) serves the same
UI for its own domains. An address of another site's domain is refused at login with the
right site's address; a session opened on one site does not carry over to another.

The prefixes come from the store (``login_sites``) on every request, so a site an operator
adds works at once. The root (no prefix) serves every domain: one site, or a shared entry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flask import request
from sqlalchemy import select

from sekisho.store.db import Store
from sekisho.store.models import LoginSite

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

SITE_PREFIX = "sekisho.site_prefix"


class SitePrefixes:
    """WSGI middleware: a path under a site's prefix runs with the prefix as SCRIPT_NAME,
    so every link the app builds stays on that site."""

    def __init__(self, app: WSGIApplication, prefixes: Callable[[], Iterable[str]]) -> None:
        self._app = app
        self._prefixes = prefixes

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        path = environ.get("PATH_INFO", "")
        for prefix in sorted(self._prefixes(), key=len, reverse=True):
            if path == prefix or path.startswith(prefix + "/"):
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                environ["PATH_INFO"] = path[len(prefix) :] or "/"
                environ[SITE_PREFIX] = prefix
                break
        return self._app(environ, start_response)


def site_prefixes(store: Store) -> Callable[[], list[str]]:
    def load() -> list[str]:
        with store.read() as session:
            return [p for p in session.scalars(select(LoginSite.url_prefix)) if p and p != "/"]

    return load


def current_site_prefix() -> str:
    """The prefix this request came in under; "" at the root."""
    return str(request.environ.get(SITE_PREFIX, ""))


def login_url(site: LoginSite) -> str:
    base = f"https://{site.host_name}" if site.host_name else request.host_url.rstrip("/")
    return f"{base}{site.url_prefix}/login"
