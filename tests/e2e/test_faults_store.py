"""The store taken away under load: the multi-node setup's PostgreSQL (a server of this
module's own: stopping the session's would take the store from other tests) stopped with
``pg_ctl stop -m fast`` and started again 3 s later, while senders that retry like an MTA
keep sending mail that taro's rules quarantine (the milter needs the store at RCPT and at
the end of every such message) and hanako's deliver. Every message must end up exactly
once per recipient.

Postfix's mailbox list is a file here, not the pgsql map of deploy/postfix: Postfix 3.7's
pgsql client stays away from a server for 60 s after a failed query (RETRY_CONN_INTV in
dict_pgsql.c, not configurable), so each smtpd and virtual process that touched the map
during the outage, or whose connection the restart closed, defers for a minute ("451 4.3.0
Temporary lookup failure" at RCPT, "deferred (mail system configuration error)" in the
queue). Kept, never lost, but a minute per test; README "When something fails" says so."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sekisho.devstack.ports import free_port
from sekisho.devstack.postgres import PostgresInstance
from sekisho.rules.lists import REJECT_FROM
from sekisho.store import accounts
from sekisho.store.lists import add_values
from sekisho.store.models import QuarantinedMessage
from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_faults import (
    HANAKO_INBOX,
    RECIPIENTS,
    TARO_JUNK,
    count_once_each,
    send_under_load,
)
from tests.reporting import Record

DOWN_SECONDS = 3.0


@pytest.fixture(scope="module")
def own_postgres(run_root: Path) -> Iterator[PostgresInstance]:
    """Stopping the session's server would take the store from every other test."""
    server = PostgresInstance(run_root / "faults-postgres", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def postgres_stack(run_root: Path, own_postgres: PostgresInstance) -> Iterator[MailHarness]:
    """The milter on the PostgreSQL store; Postfix's mailbox list is a file here, see
    the module's note."""
    run = run_root / "faults-store"
    run.mkdir()
    mailboxes = run / "mailboxes"
    mailboxes.write_text("".join(f"{a} example.jp/{a.partition('@')[0]}/\n" for a in RECIPIENTS))
    yield from start_harness(
        run,
        database_url=own_postgres.create_database("sekisho"),
        postfix_main={"virtual_mailbox_maps": f"texthash:{mailboxes}"},
    )


@pytest.fixture
def mail(postgres_stack: MailHarness) -> MailHarness:
    postgres_stack.reset()
    postgres_stack.add_account("taro@example.jp")
    postgres_stack.add_account("hanako@example.jp")
    with postgres_stack.store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp")
        add_values(session, taro.id, REJECT_FROM, ["bad.example"])
    return postgres_stack


def test_postgresql_stopped_under_load_defers_and_loses_and_doubles_nothing(
    mail: MailHarness, own_postgres: PostgresInstance, record_property: Record
) -> None:
    def outage() -> None:
        own_postgres.stop()
        time.sleep(DOWN_SECONDS)
        own_postgres.start()

    sent, attempts = send_under_load(mail, "while the store restarts", [outage])
    count_once_each(mail, sent, attempts, (TARO_JUNK, HANAKO_INBOX), record_property)
    with mail.store.read() as session:
        assert session.query(QuarantinedMessage).count() == len(sent)
    assert mail.stack.milter is not None
    assert "policy_unavailable" in mail.stack.milter.log_text()  # the milter saw it go
