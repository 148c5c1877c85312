"""Faults of the scanners, caused under load: clamd and the spam engine stopped for a few
seconds and started again while senders that retry like an MTA keep sending. Mail to a
mailbox whose scan is down is deferred, never passed unscanned; every message ends up
exactly once per recipient."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sekisho.devstack.clamd import ClamdInstance
from sekisho.devstack.spam import RspamdInstance
from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_faults import (
    HANAKO_INBOX,
    count_once_each,
    send_under_load,
)
from tests.e2e.test_mailflow import import_settings
from tests.reporting import Record

TARO_INBOX = "example.jp/taro/new"
DOWN_SECONDS = 3.0


@pytest.fixture(scope="module")
def own_clamd(run_root: Path) -> Iterator[ClamdInstance]:
    daemon = ClamdInstance(run_root / "faults-clamd")
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def own_rspamd(run_root: Path) -> Iterator[RspamdInstance]:
    daemon = RspamdInstance(run_root / "faults-rspamd")
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def scanning_stack(
    run_root: Path, own_clamd: ClamdInstance, own_rspamd: RspamdInstance
) -> Iterator[MailHarness]:
    yield from start_harness(
        run_root / "faults-scanners", clamd=own_clamd.url, spam_engine=own_rspamd.url
    )


@pytest.fixture
def mail(scanning_stack: MailHarness) -> MailHarness:
    scanning_stack.reset()
    scanning_stack.add_account("taro@example.jp")
    scanning_stack.add_account("hanako@example.jp")
    return scanning_stack


def down_for_a_while(stop: Callable[[], None], start: Callable[[], None]) -> Callable[[], None]:
    def outage() -> None:
        stop()
        time.sleep(DOWN_SECONDS)
        start()

    return outage


def test_clamd_stopped_under_load_defers_and_nothing_passes_unscanned(
    mail: MailHarness, own_clamd: ClamdInstance, record_property: Record
) -> None:
    import_settings(mail, "taro@example.jp", {"virus_scan": True})
    outage = down_for_a_while(own_clamd.stop, own_clamd.start)
    sent, attempts = send_under_load(mail, "while clamd restarts", [outage])
    count_once_each(mail, sent, attempts, (TARO_INBOX, HANAKO_INBOX), record_property)
    for path in mail.files()[TARO_INBOX]:
        assert b"X-Sekisho-Virus: clean" in path.read_bytes()  # every copy was scanned


def test_the_spam_engine_stopped_under_load_defers_and_nothing_passes_unscanned(
    mail: MailHarness, own_rspamd: RspamdInstance, record_property: Record
) -> None:
    import_settings(mail, "taro@example.jp", {"spam_scan": {"enabled": True, "quarantine": True}})
    outage = down_for_a_while(own_rspamd.stop, own_rspamd.start)
    sent, attempts = send_under_load(mail, "while rspamd restarts", [outage])
    count_once_each(mail, sent, attempts, (TARO_INBOX, HANAKO_INBOX), record_property)
    for path in mail.files()[TARO_INBOX]:
        assert b"X-Sekisho-Spam-Score:" in path.read_bytes()  # every copy was scanned
