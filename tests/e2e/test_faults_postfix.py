"""Faults around the ``[spam]``-tagged copy and on Postfix's side, caused under load while
senders that retry like an MTA keep sending: the milter SIGKILLed between a tagged copy
and its ledger row, the re-injection listener taken out of master.cf for a few seconds
(which the mail path must not notice), and the milter hung (SIGSTOP) past Postfix's
milter timeouts, so Postfix answers 4xx while the milter, once resumed, still finishes
the transactions Postfix gave up on. Every message must end up exactly once per
recipient, where that recipient's rules put it."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest

from sekisho.devstack.ports import wait_for_tcp
from sekisho.devstack.spam import RspamdInstance
from sekisho.rules.lists import REJECT_FROM
from sekisho.rules.spam import SUBJECT_TAG
from sekisho.store import accounts
from sekisho.store.lists import add_values
from sekisho.store.models import OutboxMessage, QuarantinedMessage
from sekisho.store.outbox import TAGGED_COPY
from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_faults import (
    HANAKO_INBOX,
    TARO_JUNK,
    count_once_each,
    kill_and_restart_milter,
    send_under_load,
)
from tests.e2e.test_mailflow import import_settings
from tests.e2e.test_spam_mailflow import GTUBE
from tests.reporting import Record

TARO_INBOX = "example.jp/taro/new"
DOWN_SECONDS = 3.0
# Postfix's milter timeouts in this module (deploy/postfix/main.cf ships 10 s, 30 s and
# 300 s): small, so a hang outlasts them in a test's time.
MILTER_TIMEOUT_SECONDS = 2
HUNG_SECONDS = 2 * MILTER_TIMEOUT_SECONDS


@pytest.fixture(scope="module")
def postfix_stack(run_root: Path, rspamd: RspamdInstance) -> Iterator[MailHarness]:
    timeout = f"{MILTER_TIMEOUT_SECONDS}s"
    yield from start_harness(
        run_root / "faults-postfix",
        spam_engine=rspamd.url,
        postfix_main={
            "milter_connect_timeout": timeout,
            "milter_command_timeout": timeout,
            "milter_content_timeout": timeout,
        },
    )


@pytest.fixture
def mail(postfix_stack: MailHarness) -> MailHarness:
    postfix_stack.reset()
    postfix_stack.add_account("taro@example.jp")
    postfix_stack.add_account("hanako@example.jp")
    return postfix_stack


def is_spam(subject: str) -> bool:
    return int(subject.rpartition("-")[2]) % 2 == 0


def gtube_every_other(subject: str) -> str:
    return GTUBE if is_spam(subject) else "A limited offer.\n"


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def tag_spam_for_taro(mail: MailHarness) -> None:
    """taro tags spam, hanako has no scan: a GTUBE mail to both gives taro a tagged copy
    of his own, written into his inbox by the milter, and hanako the original."""
    import_settings(mail, "taro@example.jp", {"spam_scan": {"enabled": True, "quarantine": False}})


def assert_tagged_where_spam(mail: MailHarness, sent: list[str]) -> None:
    """taro's spam tagged and his other mail not, hanako's never; one ledger row per
    tagged copy."""
    for path in mail.files()[TARO_INBOX]:
        subject = str(message_from_bytes(path.read_bytes())["Subject"])
        assert subject.startswith(SUBJECT_TAG) == is_spam(subject.removeprefix(SUBJECT_TAG))
    for path in mail.files()[HANAKO_INBOX]:
        assert not str(message_from_bytes(path.read_bytes())["Subject"]).startswith(SUBJECT_TAG)
    with mail.store.read() as session:
        ledger = session.query(OutboxMessage).filter_by(kind=TAGGED_COPY).count()
    assert ledger == sum(1 for subject in sent if is_spam(subject))


def written_by_the_milter(inbox: Path) -> set[str]:
    """The files the milter wrote into an inbox itself (keyed names, sekisho.maildir)."""
    return {path.name for path in inbox.iterdir() if path.name.startswith("K")}


def test_the_milter_killed_between_a_tagged_copy_and_its_row_doubles_nothing(
    mail: MailHarness, record_property: Record
) -> None:
    """The window that used to send a tagged copy twice: the copy is in taro's inbox,
    its ledger row not yet committed (the store's write lock is held, so the milter
    waits there), and the milter is SIGKILLed — twice, under load. The sender's retry
    finds the copy under its keyed name and replaces it: one copy each."""
    tag_spam_for_taro(mail)
    inbox = mail.mail_root / TARO_INBOX
    caught: list[str] = []

    def kill_after_a_copy() -> None:
        lock = sqlite3.connect(mail.stack.sqlite_path, timeout=10, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
            before = written_by_the_milter(inbox) if inbox.exists() else set()
            deadline = time.monotonic() + 10
            while not (written_by_the_milter(inbox) if inbox.exists() else set()) - before:
                assert time.monotonic() < deadline, "no tagged copy was written"
                time.sleep(0.01)
            caught.extend(written_by_the_milter(inbox) - before)
            kill_and_restart_milter(mail)
            lock.execute("ROLLBACK")
        finally:
            lock.close()

    sent, attempts = send_under_load(
        mail, "killed", [kill_after_a_copy, kill_after_a_copy], body=gtube_every_other
    )
    count_once_each(mail, sent, attempts, (TARO_INBOX, HANAKO_INBOX), record_property)
    assert_tagged_where_spam(mail, sent)
    assert len(caught) >= 2
    assert set(caught) <= written_by_the_milter(inbox)  # taken over by the retries


def test_the_reinjection_listener_down_under_load_defers_nothing_and_tags_once(
    mail: MailHarness, record_property: Record
) -> None:
    """Postfix's re-injection listener (the worker's way out for notices, replies and
    reports) out of master.cf for a few seconds (``postfix reload``) under load: the
    milter writes tagged copies itself, so no message is deferred and each lands once."""
    tag_spam_for_taro(mail)
    postfix = mail.stack.postfix
    assert postfix is not None
    port = mail.stack.reinject_port
    master = postfix.etc / "master.cf"

    def reload() -> None:
        subprocess.run(
            ["postfix", "-c", str(postfix.etc), "reload"], check=True, capture_output=True
        )

    def outage() -> None:
        kept = master.read_text()
        postfix.postconf("-M#", f"127.0.0.1:{port}/inet")
        reload()
        deadline = time.monotonic() + 10
        while not refuses_connections(port):
            assert time.monotonic() < deadline, "the re-injection listener stayed"
            time.sleep(0.05)
        time.sleep(DOWN_SECONDS)
        master.write_text(kept)
        reload()
        wait_for_tcp(port)

    sent, attempts = send_under_load(mail, "tagged", [outage], body=gtube_every_other)
    count_once_each(
        mail, sent, attempts, (TARO_INBOX, HANAKO_INBOX), record_property, fault_defers=False
    )
    assert_tagged_where_spam(mail, sent)


def test_a_milter_hung_past_postfix_timeouts_under_load_loses_and_doubles_nothing(
    mail: MailHarness, record_property: Record
) -> None:
    """The milter stopped (SIGSTOP) for twice Postfix's milter timeouts, while messages
    are inside its end-of-message step (the store's write lock is held until a quarantine
    copy is written, whose row then waits: the hang lands there, not only between
    messages). Postfix answers
    ``451 4.7.1`` (milter_default_action = tempfail) and the sender retries in a fresh
    transaction; the resumed milter still finishes the stale ones and writes their
    quarantine copies and rows, which the retries must find instead of doubling."""
    with mail.store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp")
        add_values(session, taro.id, REJECT_FROM, ["bad.example"])
    milter = mail.stack.milter
    assert milter is not None
    assert milter.process is not None
    pid = milter.process.pid

    junk = mail.mail_root / TARO_JUNK

    def hang() -> None:
        lock = sqlite3.connect(mail.stack.sqlite_path, timeout=10, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")
            before = set(junk.iterdir()) if junk.exists() else set()
            # A copy written now waits on the lock for its row: its message is inside
            # the milter's end-of-message step, Postfix waiting on the answer.
            deadline = time.monotonic() + 5
            while not (set(junk.iterdir()) if junk.exists() else set()) - before:
                assert time.monotonic() < deadline, "no message reached its end"
                time.sleep(0.01)
            os.kill(pid, signal.SIGSTOP)
            lock.execute("ROLLBACK")
        finally:
            lock.close()
        try:
            time.sleep(HUNG_SECONDS)
        finally:
            os.kill(pid, signal.SIGCONT)

    sent, attempts = send_under_load(mail, "hung", [hang])
    count_once_each(mail, sent, attempts, (TARO_JUNK, HANAKO_INBOX), record_property)
    with mail.store.read() as session:
        assert session.query(QuarantinedMessage).count() == len(sent)
    stale = finished_after_postfix_gave_up(mail)
    print(f"quarantined by the resumed milter after Postfix's 4xx: {len(stale)}")
    assert stale, "the hang caught no message at its end: the test proved nothing"


def finished_after_postfix_gave_up(mail: MailHarness) -> set[str]:
    """Queue ids the milter quarantined for (its ``end`` line) that Postfix refused with a
    4xx because the milter did not answer in time."""
    postfix = mail.stack.postfix
    milter = mail.stack.milter
    assert postfix is not None
    assert milter is not None
    quarantined = set(re.findall(r"end queue_id=(\w+) quarantined=1", milter.log_text()))
    refused = set(
        re.findall(r"\]: (\w+): milter-reject: END-OF-MESSAGE", postfix.log_file.read_text())
    )
    return quarantined & refused
