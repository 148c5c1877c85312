"""`sekisho policy`: Dovecot's auth policy server, so the web login's lockout (the counters
of sekisho.store.audit) also holds for POP3, IMAP and SMTP AUTH.

Dovecot's auth process (deploy/dovecot/92-sekisho-auth-policy.conf) POSTs a JSON object of
the attributes it is told to send (``login``, ``remote``, ``protocol``) to
``auth_policy_server_url``:

- ``?command=allow`` before it looks at the password. While the typed address or the client
  address is locked out, the answer is ``{"status": -1, "msg": …}``: Dovecot fails the login
  without checking the password, so a good password does not get through meanwhile, as on
  the web. Otherwise ``{"status": 0}`` (a positive status would be a tarpit in seconds;
  sekisho never asks for one).
- ``?command=report`` after the login, with ``success`` and ``policy_reject``. A failure
  counts as a failed web login does (per address and per client). One this server refused
  is not counted, as a refused web login is not. A success is recorded only when it ends
  counted failures of the address — all the throttle needs — so mail programs polling every
  few minutes do not write a row each time. Each row keeps the service (POP3, IMAP, SMTP)
  for the owner's ログイン履歴.

A process of its own rather than a route of the web UI: Dovecot's auth waits on the answer
of every login (up to auth_policy_server_timeout_msecs), so it must not queue behind web
pages or depend on where the web UI runs. When it is down, slow or answers an error,
Dovecot applies ``auth_policy_reject_on_fail``; the shipped ``no`` fails open (logins are
checked by password alone, without this lockout): see the fragment for why.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.exc import SQLAlchemyError

from sekisho.config import Settings
from sekisho.store import accounts, audit
from sekisho.store.audit import LoginService
from sekisho.store.db import Store
from sekisho.store.models import utcnow

log = logging.getLogger("sekisho.policy")
POLICY_STARTED = "policy_started"
# Dovecot's request is a few hundred bytes; anything far larger is not Dovecot.
MAX_REQUEST_BYTES = 64 * 1024
Clock = Callable[[], datetime]
# Dovecot's service names (``protocol``, its %s) → the door ログイン履歴 names. Postfix asks
# Dovecot SASL as "smtp"; "submission" is Dovecot's own submission server.
SERVICES = {
    "pop3": LoginService.POP3,
    "imap": LoginService.IMAP,
    "smtp": LoginService.SMTP,
    "submission": LoginService.SMTP,
}


class PolicyRequestError(ValueError):
    """The request is not one Dovecot sends with the shipped attributes."""


@dataclass(frozen=True)
class Login:
    """One login as Dovecot describes it."""

    address: str  # as typed (requested_username)
    client: str  # the client's IP address (rip)
    protocol: str  # pop3, imap, smtp …

    @property
    def service(self) -> LoginService:
        return SERVICES.get(self.protocol.lower(), LoginService.OTHER)


@dataclass(frozen=True)
class Report:
    login: Login
    succeeded: bool
    refused_here: bool  # this server's "allow" answer refused it


@dataclass(frozen=True)
class Verdict:
    """Dovecot's answer to ``command=allow``: status -1 refuses, 0 lets it go on."""

    status: int
    message: str = ""

    def body(self) -> bytes:
        return json.dumps({"status": self.status, "msg": self.message}).encode()


ALLOW = Verdict(0)


def _text(document: Mapping[str, object], key: str) -> str:
    value = document.get(key, "")
    if not isinstance(value, str):
        raise PolicyRequestError(f"{key} is not a string")
    return value


def parse_login(document: Mapping[str, object]) -> Login:
    # As the web does for a request without a peer address: one shared "unknown" client.
    client = _text(document, "remote") or "unknown"
    return Login(_text(document, "login"), client, _text(document, "protocol"))


def parse_report(document: Mapping[str, object]) -> Report:
    success, refused = document.get("success"), document.get("policy_reject", False)
    if not isinstance(success, bool) or not isinstance(refused, bool):
        raise PolicyRequestError("success and policy_reject must be true or false")
    return Report(parse_login(document), success, refused)


def refusal(until: datetime, now: datetime) -> Verdict:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return Verdict(-1, f"Too many failed logins, try again in {minutes} minutes")


def allow(store: Store, login: Login, now: datetime) -> Verdict:
    with store.read() as db:
        until = audit.throttled_until(db, login.address, login.client, now)
    if until is None:
        return ALLOW
    log.warning(
        "login_throttled address=%s client=%s protocol=%s until=%s",
        login.address[:320],
        login.client,
        login.protocol,
        until.isoformat(),
    )
    return refusal(until, now)


def report(store: Store, outcome: Report, now: datetime) -> bool:
    """Record the login as the web records its own; False when there is nothing to count."""
    login = outcome.login
    if outcome.refused_here:
        return False
    with store.transaction() as db:
        if outcome.succeeded and not audit.success_clears_failures(db, login.address, now):
            return False
        known = accounts.find_account(db, login.address)
        audit.record_attempt(
            db,
            login.address,
            login.client,
            known.id if known else None,
            outcome.succeeded,
            now,
            service=login.service,
        )
    if not outcome.succeeded:
        log.info(
            "login_failed address=%s client=%s protocol=%s",
            login.address[:320],
            login.client,
            login.protocol,
        )
    return True


class PolicyServer(ThreadingHTTPServer):
    """One thread per connection: Dovecot keeps up to 100 open per auth process."""

    daemon_threads = True

    def __init__(self, settings: Settings, store: Store, clock: Clock = utcnow) -> None:
        host, _, port = settings.policy_listen.rpartition(":")
        self.store = store
        self.clock = clock
        self.api_key = settings.policy_api_key
        super().__init__((host.strip("[]"), int(port)), PolicyHandler)


class PolicyHandler(BaseHTTPRequestHandler):
    # Keep-alive: Dovecot reuses its connections from one login to the next.
    protocol_version = "HTTP/1.1"
    # A connection Dovecot left idle (it drops its own after 10 s) frees its thread.
    timeout = 60
    server: PolicyServer

    def do_POST(self) -> None:
        if self.server.api_key and not hmac.compare_digest(
            self.headers.get("X-API-Key", "").strip().encode(), self.server.api_key.encode()
        ):
            self._answer(HTTPStatus.UNAUTHORIZED)
            return
        command = parse_qs(urlsplit(self.path).query).get("command", [""])[0]
        try:
            document = self._document()
            if command == "allow":
                verdict = allow(self.server.store, parse_login(document), self.server.clock())
                self._answer(HTTPStatus.OK, verdict.body())
            elif command == "report":
                report(self.server.store, parse_report(document), self.server.clock())
                self._answer(HTTPStatus.NO_CONTENT)
            else:
                self._answer(HTTPStatus.NOT_FOUND)
        except PolicyRequestError as error:
            log.warning("policy_bad_request command=%s error=%s", command, error)
            self._answer(HTTPStatus.BAD_REQUEST)
        except SQLAlchemyError as error:
            # Dovecot takes an error answer as the server being down (reject_on_fail). One
            # line per login, not a traceback each, while the store is away.
            log.error(  # noqa: TRY400
                "policy_store_failed command=%s error=%s", command, type(error).__name__
            )
            self._answer(HTTPStatus.SERVICE_UNAVAILABLE)

    def _document(self) -> dict[str, object]:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_REQUEST_BYTES:
            raise PolicyRequestError(f"body of {length} bytes")
        try:
            document = json.loads(self.rfile.read(length))
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError alike
            raise PolicyRequestError("the body is not JSON") from error
        if not isinstance(document, dict):
            raise PolicyRequestError("the body is not a JSON object")
        return document

    def _answer(self, status: HTTPStatus, body: bytes = b"") -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        # One line per login at INFO would drown the log; the decisions are logged above.
        log.debug("policy_http " + format, *args)


def run(settings: Settings, store: Store, stop: threading.Event) -> None:
    """Answer Dovecot until ``stop`` is set."""
    with PolicyServer(settings, store) as server:
        serving = threading.Thread(target=server.serve_forever, name="policy-http")
        serving.start()
        log.info("%s listen=%s", POLICY_STARTED, settings.policy_listen)
        stop.wait()
        server.shutdown()
        serving.join()
