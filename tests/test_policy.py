"""`sekisho policy` speaks Dovecot's auth policy protocol over HTTP on the web login's
counters: reported failures lock an address for the web too, web failures refuse the
address's next Dovecot login, a refused login is not counted again, a success clears.
(tests/e2e/test_dovecot_policy.py drives it with the real Dovecot.)"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sekisho.config import load_settings
from sekisho.devstack.ports import free_port
from sekisho.policy import PolicyServer
from sekisho.store import accounts, audit
from sekisho.store.db import Store
from sekisho.store.models import LoginAttempt, utcnow

KEY = "0123abcd"
WEB = audit.LoginService.WEB
NOW = utcnow()


class Dovecot:
    """What Dovecot's auth process sends, with the shipped request attributes."""

    def __init__(self, port: int, key: str = KEY) -> None:
        self.port, self.key = port, key

    def post(self, command: str, document: object) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request(
                "POST",
                f"/?command={command}",
                json.dumps(document),
                {"Content-Type": "application/json", "X-API-Key": self.key},
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def allow(self, login: str, remote: str = "192.0.2.8") -> dict[str, object]:
        status, body = self.post(
            "allow", {"login": login, "remote": remote, "protocol": "pop3", "tls": False}
        )
        assert status == 200, body
        answer = json.loads(body)
        assert isinstance(answer, dict)
        return answer

    def report(
        self, login: str, success: bool, refused: bool = False, protocol: str = "imap"
    ) -> None:
        document = {
            "login": login,
            "remote": "192.0.2.8",
            "protocol": protocol,
            "success": success,
            "policy_reject": refused,
            "tls": False,
        }
        status, body = self.post("report", document)
        assert status == 204, body


@contextmanager
def serving(store: Store) -> Iterator[Dovecot]:
    settings = load_settings(
        environ={
            "SEKISHO_POLICY_LISTEN": f"127.0.0.1:{free_port()}",
            "SEKISHO_POLICY_API_KEY": KEY,
        }
    )
    with PolicyServer(settings, store, clock=lambda: NOW) as server:
        thread = threading.Thread(target=server.serve_forever)
        thread.start()
        try:
            yield Dovecot(server.server_address[1])
        finally:
            server.shutdown()
            thread.join()


@pytest.fixture
def dovecot(store: Store) -> Iterator[Dovecot]:
    with store.transaction() as session:
        accounts.add_domain(session, "example.jp", "ms246", "smtp.example.jp", "pop.example.jp")
        accounts.add_account(session, "taro@example.jp", "taro1234")
    with serving(store) as client:
        yield client


def attempts(store: Store) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count(LoginAttempt.id))) or 0)


def test_five_reported_failures_refuse_the_address_and_lock_the_web_login(
    dovecot: Dovecot, store: Store
) -> None:
    assert dovecot.allow("taro@example.jp") == {"status": 0, "msg": ""}
    for _ in range(audit.MAX_FAILURES_PER_ADDRESS):
        dovecot.report("Taro@Example.JP", success=False)
    answer = dovecot.allow("taro@example.jp")
    assert answer["status"] == -1
    assert answer["msg"] == "Too many failed logins, try again in 15 minutes"
    with store.read() as session:
        # The web's own check, from another client address: the address is locked there too.
        assert audit.throttled_until(session, "taro@example.jp", "198.51.100.1", NOW)
        history = audit.history(session, accounts.require_account(session, "taro@example.jp").id)
    assert [attempt.succeeded for attempt in history] == [False] * 5
    assert dovecot.allow("hanako@example.jp")["status"] == 0


def test_web_failures_refuse_the_next_dovecot_login(dovecot: Dovecot, store: Store) -> None:
    with store.transaction() as session:
        for second in range(audit.MAX_FAILURES_PER_ADDRESS):
            at = NOW - timedelta(seconds=10 - second)
            audit.record_attempt(
                session, "taro@example.jp", "203.0.113.5", None, False, at, service=WEB
            )
    assert dovecot.allow("taro@example.jp")["status"] == -1


def test_a_refused_login_is_not_counted_and_a_success_clears_once(
    dovecot: Dovecot, store: Store
) -> None:
    dovecot.report("taro@example.jp", success=True)
    assert attempts(store) == 0  # nothing to clear: a polling mail program writes no row
    for _ in range(4):
        dovecot.report("taro@example.jp", success=False)
    dovecot.report("taro@example.jp", success=False, refused=True)
    assert attempts(store) == 4
    dovecot.report("taro@example.jp", success=True)
    assert attempts(store) == 5
    dovecot.report("taro@example.jp", success=False)
    # The good login ended the run: one failure since, not five.
    assert dovecot.allow("taro@example.jp")["status"] == 0


def test_each_reported_login_keeps_the_service_it_came_by(dovecot: Dovecot, store: Store) -> None:
    """ログイン履歴 names the door: Dovecot's POP3 and IMAP, and SMTP AUTH whether Postfix
    asked (smtp) or Dovecot's own submission server did."""
    for protocol in ("pop3", "imap", "smtp", "submission", "sieve"):
        dovecot.report("taro@example.jp", success=False, protocol=protocol)
    dovecot.report("taro@example.jp", success=True, protocol="pop3")
    with store.read() as session:
        history = audit.history(session, accounts.require_account(session, "taro@example.jp").id)
    assert [(attempt.service, attempt.succeeded) for attempt in reversed(history)] == [
        ("pop3", False),
        ("imap", False),
        ("smtp", False),
        ("smtp", False),
        ("other", False),
        ("pop3", True),
    ]


def test_without_the_key_nothing_is_answered_or_counted(dovecot: Dovecot, store: Store) -> None:
    stranger = Dovecot(dovecot.port, key="guess")
    status, _ = stranger.post("report", {"login": "taro@example.jp", "success": False})
    assert status == 401
    assert attempts(store) == 0


@pytest.mark.parametrize(
    ("command", "document", "status"),
    [
        ("allow", ["not", "an", "object"], 400),
        ("allow", {"login": 5}, 400),
        ("report", {"login": "taro@example.jp", "success": "no"}, 400),
        ("forget", {"login": "taro@example.jp"}, 404),
    ],
)
def test_what_dovecot_never_sends_is_refused(
    dovecot: Dovecot, command: str, document: object, status: int
) -> None:
    assert dovecot.post(command, document)[0] == status


def test_a_store_that_fails_answers_503_which_dovecot_takes_as_down(tmp_path: Path) -> None:
    broken = Store(f"sqlite:///{tmp_path / 'no-schema.db'}")  # no tables: every query fails
    try:
        with serving(broken) as dovecot:
            assert dovecot.post("allow", {"login": "taro@example.jp"})[0] == 503
            report = {"login": "x@example.jp", "success": False}
            assert dovecot.post("report", report)[0] == 503
    finally:
        broken.dispose()
