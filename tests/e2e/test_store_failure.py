"""The store unreachable or corrupt: SMTP 4xx at RCPT, the client keeps the mail, nothing
is delivered unfiltered; once the store is back the retry is filtered as usual."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from sekisho.devstack.ports import free_port
from sekisho.devstack.postgres import PostgresInstance
from sekisho.devstack.processes import milter_process
from sekisho.rules.lists import REJECT_FROM
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.lists import add_values
from sekisho.store.migrate import upgrade
from tests.e2e.conftest import MailHarness

STORE_DOWN = b"4.3.0 Mail filter settings are unavailable, try again later"


@pytest.fixture
def harness(mail: MailHarness) -> Iterator[MailHarness]:
    mail.add_account("taro@example.jp")
    with mail.store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp")
        add_values(session, taro.id, REJECT_FROM, ["bad.example"])
    yield mail
    restart_milter(mail, mail.stack.database_url)  # the next test gets the healthy store


def restart_milter(mail: MailHarness, database_url: str) -> None:
    """The milter alone on another store; Postfix keeps reading its mailbox list."""
    stack = mail.stack
    assert stack.milter is not None
    stack.milter.stop(grace=0.2)  # it holds no state worth a graceful exit here
    environment = {**stack.environment(), "SEKISHO_DATABASE_URL": database_url}
    stack.milter = milter_process(environment, stack.milter_listen, stack.run / "milter.log")


def assert_deferred_and_nothing_delivered(mail: MailHarness) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        mail.send("someone@bad.example", ["taro@example.jp"])
    code, text = refused.value.recipients["taro@example.jp"]
    assert code == 451
    assert STORE_DOWN in text
    mail.wait_until_delivered()
    assert mail.files() == {}


def test_corrupt_store_defers_mail(harness: MailHarness) -> None:
    broken = harness.stack.run / "corrupt.db"
    broken.write_bytes(b"garbage" * 1000)
    restart_milter(harness, f"sqlite:///{broken}")
    assert_deferred_and_nothing_delivered(harness)


def test_unreachable_postgresql_defers_mail(harness: MailHarness) -> None:
    restart_milter(harness, f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/sekisho")
    assert_deferred_and_nothing_delivered(harness)


def test_store_going_down_under_a_running_milter_defers_then_the_retry_is_filtered(
    harness: MailHarness, postgres: PostgresInstance
) -> None:
    """PostgreSQL refuses connections while the milter holds a cached snapshot."""
    url = postgres.create_database("milter_store_down")
    upgrade(url)
    milter_store = Store(url)
    with milter_store.transaction() as session:
        accounts.add_domain(session, "example.jp", "ms246", "smtp.example.jp", "pop.example.jp")
        accounts.add_account(session, "taro@example.jp", "secret123")
        add_values(
            session,
            accounts.require_account(session, "taro@example.jp").id,
            REJECT_FROM,
            ["bad.example"],
        )
    milter_store.dispose()
    restart_milter(harness, url)
    harness.send("someone@bad.example", ["taro@example.jp"], subject="before")
    harness.wait_for_files("example.jp/taro/.Junk/new")

    admin = create_engine(postgres.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("ALTER DATABASE milter_store_down WITH ALLOW_CONNECTIONS false"))
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = 'milter_store_down'"
            )
        )
    try:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            harness.send("someone@bad.example", ["taro@example.jp"], subject="retried")
        code, reply = refused.value.recipients["taro@example.jp"]
        assert code == 451
        assert STORE_DOWN in reply
    finally:
        with admin.connect() as connection:
            connection.execute(text("ALTER DATABASE milter_store_down WITH ALLOW_CONNECTIONS true"))
        admin.dispose()

    # The store is back: the client's retry goes through the filter.
    assert harness.send("someone@bad.example", ["taro@example.jp"], subject="retried") == {}
    quarantined = harness.wait_for_files("example.jp/taro/.Junk/new", count=2)
    harness.wait_until_delivered()
    assert set(harness.files()) == {"example.jp/taro/.Junk/new"}
    assert any("Subject: retried" in path.read_text() for path in quarantined)
