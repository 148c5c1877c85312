"""The real-Postfix harness: a LocalStack per module, reset before every test.

Tests send with smtplib to the stack's inbound listener and assert where each copy
landed in the Maildirs under ``stack.mail_root``.
"""

from __future__ import annotations

import smtplib
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest

from sekisho.devstack.ports import free_port
from sekisho.devstack.stack import LocalStack
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.models import Account
from tests.smtpsink import Sink, running

pytestmark = pytest.mark.e2e


class MailHarness:
    """A started LocalStack plus what tests do with it."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.store = Store(stack.database_url)

    @property
    def mail_root(self) -> Path:
        return self.stack.mail_root

    def reset(self) -> None:
        with self.store.transaction() as session:
            for account in session.query(Account).all():
                session.delete(account)
            if accounts.domain_for(session, "x@example.jp") is None:
                accounts.add_domain(
                    session, "example.jp", "ms246", "smtp.example.jp", "pop.example.jp"
                )
        self.stack.clear_mail()

    def add_account(self, address: str, password: str = "secret123") -> None:
        with self.store.transaction() as session:
            accounts.add_account(session, address, password)

    def send(
        self,
        sender: str,
        recipients: list[str],
        subject: str = "test",
        body: str = "Hello.\n",
        from_header: str | None = None,
    ) -> dict[str, tuple[int, bytes]]:
        message = EmailMessage()
        message["From"] = from_header or sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = subject
        # As a mail program writes them: rspamd scores mail without them as spam-like.
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain="client.example")
        message.set_content(body)
        with smtplib.SMTP("127.0.0.1", self.stack.smtp_port, timeout=30) as client:
            return client.send_message(message, from_addr=sender, to_addrs=recipients)

    def wait_until_delivered(self) -> None:
        assert self.stack.postfix is not None
        self.stack.postfix.wait_until_idle()

    def files(self) -> dict[str, list[Path]]:
        """Every message file by Maildir folder, relative to the mail root."""
        found: dict[str, list[Path]] = {}
        for path in sorted(self.mail_root.rglob("*")):
            if path.is_file() and path.parent.name in {"new", "cur", "tmp"}:
                folder = str(path.parent.relative_to(self.mail_root))
                found.setdefault(folder, []).append(path)
        return found

    def wait_for_files(self, folder: str, count: int = 1, timeout: float = 15.0) -> list[Path]:
        deadline = time.monotonic() + timeout
        while True:
            files = self.files().get(folder, [])
            if len(files) >= count:
                return files
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no mail in {folder}: {self.files()}\n"
                    + (self.stack.postfix.log_tail() if self.stack.postfix else "")
                )
            time.sleep(0.05)


def start_harness(run: Path, **options: object) -> Iterator[MailHarness]:
    stack = LocalStack(run, policy_refresh_seconds=0.0, **options)  # type: ignore[arg-type]
    stack.start()
    harness = MailHarness(stack)
    try:
        yield harness
    finally:
        harness.store.dispose()
        stack.stop()


@pytest.fixture(scope="module")
def next_hop() -> Iterator[Sink]:
    """Where the stack relays mail for outside addresses (relay=next_hop.address)."""
    with running(Sink(free_port())) as sink:
        yield sink


@pytest.fixture(scope="module")
def mail_stack(run_root: Path, request: pytest.FixtureRequest) -> Iterator[MailHarness]:
    yield from start_harness(run_root / request.module.__name__.rpartition(".")[2])


@pytest.fixture
def mail(mail_stack: MailHarness) -> MailHarness:
    mail_stack.reset()
    return mail_stack
