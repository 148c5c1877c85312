"""The web login's lockout holds for POP3, IMAP and SMTP AUTH: the real Dovecot (built from
deploy/dovecot/, 92-sekisho-auth-policy.conf included) asks `sekisho policy` before each
login and reports after it, so failures there and on the web count together; with the
policy server down Dovecot fails open (the password alone decides, nothing is counted)."""

from __future__ import annotations

import imaplib
import os
import poplib
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, func, select

from sekisho.config import load_settings
from sekisho.store import audit
from sekisho.store.models import LoginAttempt
from sekisho.webui import create_app
from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_password_pop3 import submission_login
from tests.test_web_login import try_login

ADDRESS, PASSWORD = "taro@example.jp", "taro1234"
WEB_LOCKOUT = "ログインの失敗が続いたため、一時的にログインできません。"


@pytest.fixture(scope="module")
def policy_stack(run_root: Path) -> Iterator[MailHarness]:
    yield from start_harness(run_root / "policy", with_dovecot=True)


@pytest.fixture
def mail(policy_stack: MailHarness) -> MailHarness:
    policy_stack.reset()
    with policy_stack.store.transaction() as session:
        session.execute(delete(LoginAttempt))
    policy_stack.add_account(ADDRESS, PASSWORD)
    return policy_stack


@pytest.fixture
def web(mail: MailHarness) -> FlaskClient:
    """The web UI on the stack's own settings and store (in process)."""
    return create_app(load_settings(environ=mail.stack.environment()), mail.store).test_client()


def pop3(mail: MailHarness, password: str) -> str:
    """Dovecot's answer to PASS: "+OK …" or the "-ERR …" line."""
    assert mail.stack.dovecot is not None
    client = poplib.POP3("127.0.0.1", mail.stack.dovecot.pop3_port, timeout=10)
    try:
        client.user(ADDRESS)
        return client.pass_(password).decode()
    except poplib.error_proto as error:
        return str(error.args[0].decode())
    finally:
        client.quit()


def imap_login(mail: MailHarness, password: str) -> bool:
    assert mail.stack.dovecot is not None
    with imaplib.IMAP4("127.0.0.1", mail.stack.dovecot.imap_port) as client:
        try:
            client.login(ADDRESS, password)
        except imaplib.IMAP4.error:
            return False
        return True


def counted(mail: MailHarness) -> int:
    with mail.store.read() as session:
        return int(session.scalar(select(func.count(LoginAttempt.id))) or 0)


def test_five_wrong_pop3_passwords_lock_every_door_and_the_web(
    mail: MailHarness, web: FlaskClient
) -> None:
    assert pop3(mail, PASSWORD).startswith("+OK")
    for _ in range(audit.MAX_FAILURES_PER_ADDRESS):
        assert pop3(mail, "guess").startswith("-ERR")
    refused = pop3(mail, PASSWORD)
    assert refused == "-ERR [AUTH] Too many failed logins, try again in 15 minutes"
    assert not imap_login(mail, PASSWORD)
    assert not submission_login(mail, PASSWORD)
    status, page = try_login(web, ADDRESS, PASSWORD)
    assert status == 429
    assert WEB_LOCKOUT in page
    # The refused logins were not counted again: the lock ends with the window.
    assert counted(mail) == audit.MAX_FAILURES_PER_ADDRESS


def test_web_failures_lock_pop3(mail: MailHarness, web: FlaskClient) -> None:
    for _ in range(audit.MAX_FAILURES_PER_ADDRESS):
        assert try_login(web, ADDRESS, "guess")[0] == 200
    assert pop3(mail, PASSWORD).startswith("-ERR")
    assert not imap_login(mail, PASSWORD)


def test_failures_over_imap_and_smtp_auth_count_and_a_good_login_clears_them(
    mail: MailHarness,
) -> None:
    assert not imap_login(mail, "guess")
    assert not submission_login(mail, "guess")
    assert pop3(mail, "guess").startswith("-ERR")
    # smtplib tries PLAIN, then LOGIN: two failed SMTP AUTH attempts, as a mail program's.
    assert counted(mail) == 4
    with mail.store.read() as session:
        services = session.scalars(select(LoginAttempt.service).order_by(LoginAttempt.id)).all()
    assert services == ["imap", "smtp", "smtp", "pop3"]  # as ログイン履歴 names each door
    assert pop3(mail, PASSWORD).startswith("+OK")
    for _ in range(audit.MAX_FAILURES_PER_ADDRESS - 1):
        assert not imap_login(mail, "guess")
    assert imap_login(mail, PASSWORD)  # 4 since the good login, not 8


def test_with_the_policy_server_down_dovecot_fails_open(mail: MailHarness) -> None:
    """The shipped auth_policy_reject_on_fail = no: while `sekisho policy` is down the
    password alone decides and failures are not counted; once it is back, the failures
    counted before still lock the address."""
    for _ in range(audit.MAX_FAILURES_PER_ADDRESS):
        assert pop3(mail, "guess").startswith("-ERR")
    assert pop3(mail, PASSWORD).startswith("-ERR")
    assert mail.stack.policy is not None
    assert mail.stack.dovecot is not None
    mail.stack.policy.stop()
    try:
        assert pop3(mail, PASSWORD).startswith("+OK")
        assert pop3(mail, "guess").startswith("-ERR")
        assert submission_login(mail, PASSWORD)
        assert counted(mail) == audit.MAX_FAILURES_PER_ADDRESS
        assert "Policy server HTTP error" in mail.stack.dovecot.log_file.read_text()
    finally:
        mail.stack.start_policy()
    assert pop3(mail, PASSWORD).startswith("-ERR")


def test_a_hung_policy_server_costs_a_login_its_timeout_then_fails_open(
    mail: MailHarness,
) -> None:
    """Stopped (SIGSTOP): connections are accepted, nothing answers. Dovecot waits
    auth_policy_server_timeout_msecs (2 s, the shipped fragment) and lets the login on."""
    assert mail.stack.policy is not None
    assert mail.stack.policy.process is not None
    pid = mail.stack.policy.process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert pop3(mail, PASSWORD).startswith("+OK")
        waited = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert 1.5 < waited < 6, waited
