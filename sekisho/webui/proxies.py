"""Whose X-Forwarded-* headers the web UI believes.

Behind the shipped setup (gunicorn on 127.0.0.1, the ISP's HTTPS proxy in front) every
request's peer is the proxy: unless its X-Forwarded-For is read, the login throttle and
ログイン履歴 see one client, and twenty failed logins lock every customer out. The headers
are read ``web_proxies`` hops deep, but only on a request whose peer is one of
``web_proxy_addresses``: anyone else can write them, so from any other peer they are
ignored, and logged once per peer and process, since they mean a proxy the configuration
does not know of (or a client trying to pass for another).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import TYPE_CHECKING

from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("sekisho.web")
# Peers remembered as already logged; past this many, further ones are not logged (a
# scan from many addresses must not grow the set without end).
MAX_LOGGED_PEERS = 1024


class TrustedProxies:
    """WSGI middleware: ProxyFix for requests from a trusted proxy, the peer as it is for
    every other request."""

    def __init__(
        self,
        app: WSGIApplication,
        hops: int,
        networks: Iterable[IPv4Network | IPv6Network],
    ) -> None:
        self._app = app
        self._behind_proxy = ProxyFix(app, x_for=hops, x_proto=hops, x_host=hops) if hops else app
        self._networks = tuple(networks) if hops else ()
        self._logged: set[str] = set()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        peer = str(environ.get("REMOTE_ADDR", ""))
        if self._trusted(peer):
            return self._behind_proxy(environ, start_response)
        if "HTTP_X_FORWARDED_FOR" in environ:
            self._log_once(peer)
        return self._app(environ, start_response)

    def _trusted(self, peer: str) -> bool:
        try:
            address = ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def _log_once(self, peer: str) -> None:
        if peer in self._logged or len(self._logged) >= MAX_LOGGED_PEERS:
            return
        self._logged.add(peer)
        log.warning(
            "forwarded_header_ignored peer=%s reason=%s",
            peer,
            "untrusted_peer" if self._networks else "web_proxies_is_0",
        )
