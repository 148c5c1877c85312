"""MailTransaction with a real store and real Maildirs (no MTA): body handling, verdicts,
and the same message presented twice (DESIGN.md: idempotent quarantine copies)."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from sekisho.devstack.spam import RspamdInstance
from sekisho.maildir import Ownership
from sekisho.milter.actions import Accept, Continue, DeleteRecipient, Discard, EndOfMessage
from sekisho.milter.quarantine import Quarantine
from sekisho.milter.tagged_copy import TaggedCopies
from sekisho.milter.transaction import MailTransaction
from sekisho.milter.virus_report import VirusReports
from sekisho.quarantine_folder import Outcome, QuarantineFolder
from sekisho.rules.lists import REJECT_FROM
from sekisho.scanners.spam import spam_engine
from sekisho.scanners.virus import clamd_scanner
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.hits import HitCounter
from sekisho.store.lists import add_values
from sekisho.store.models import QuarantinedMessage
from sekisho.store.policies import PolicyCache
from sekisho.store.quarantine import quarantine_page
from tests.conftest import CLAMD_UNUSED
from tests.scanning import at_once


@pytest.fixture
def hits(store: Store) -> HitCounter:
    return HitCounter(store)


@pytest.fixture
def new_transaction(
    store: Store, example_domain: str, tmp_path: Path, hits: HitCounter, rspamd: RspamdInstance
) -> Callable[[], MailTransaction]:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        accounts.add_account(session, "hanako@example.jp", "secret123")
        add_values(
            session,
            accounts.require_account(session, "taro@example.jp").id,
            REJECT_FROM,
            ["bad.example"],
        )
    cache = PolicyCache(store, 0.0)
    quarantine = Quarantine(store, tmp_path / "mail", Ownership())

    def build() -> MailTransaction:
        return MailTransaction(
            cache.get,
            quarantine,
            spool_memory_bytes=64,
            record_hit=hits.record,
            scan_spam=at_once(spam_engine(rspamd.url, timeout=10).scan),
            scan_virus=at_once(clamd_scanner(CLAMD_UNUSED, timeout=1).scan),
            virus_reports=VirusReports(store),
            tagged_copies=TaggedCopies(store, tmp_path / "mail", Ownership()),
        )

    return build


def run(
    transaction: MailTransaction, sender: str, recipients: list[str], chunks: list[bytes]
) -> object:
    transaction.sender = sender
    for recipient in recipients:
        assert transaction.add_recipient(recipient) == Continue()
    transaction.add_header("From", sender)
    transaction.add_header("Subject", "=?ISO-2022-JP?B?GyRCTCQ+NUJ6OS05cBsoQg==?=")
    transaction.add_header("Message-ID", "<1@bad.example>")
    transaction.queue_id = "Q1"
    if transaction.end_of_headers() == Accept():
        return Accept()
    for chunk in chunks:
        transaction.add_body(chunk)
    try:
        return transaction.end_of_message()
    finally:
        transaction.close()


def test_nothing_caught_accepts_at_end_of_headers(
    new_transaction: Callable[[], MailTransaction],
) -> None:
    assert run(new_transaction(), "friend@good.example", ["<taro@example.jp>"], []) == Accept()


def test_body_is_stored_with_lf_endings_even_across_chunks(
    new_transaction,
    tmp_path: Path,
    store: Store,
) -> None:
    end = run(
        new_transaction(),
        "x@bad.example",
        ["<taro@example.jp>", "<hanako@example.jp>"],
        [b"line one\r", b"\nline two\r\n" * 20, b"last\r", b"\n"],
    )
    assert end.edits == (DeleteRecipient("<taro@example.jp>"),)
    assert end.verdict == Accept()
    (copy,) = (tmp_path / "mail/example.jp/taro/.Junk/new").iterdir()
    data = copy.read_bytes()
    assert b"\r" not in data
    assert data.endswith(b"line two\nlast\n")
    assert data.count(b"line two\n") == 20
    with store.read() as session:
        (record,) = quarantine_page(
            session, accounts.require_account(session, "taro@example.jp").id
        ).entries
    assert record.subject == "未承諾広告"


def test_every_recipient_caught_discards(new_transaction: Callable[[], MailTransaction]) -> None:
    end = run(new_transaction(), "x@bad.example", ["<taro@example.jp>"], [b"hi\r\n"])
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Discard()


def test_the_same_message_twice_is_quarantined_once(
    new_transaction,
    tmp_path: Path,
) -> None:
    for _ in range(2):
        end = run(new_transaction(), "x@bad.example", ["<taro@example.jp>"], [b"same\r\n"])
        assert isinstance(end, EndOfMessage)
        assert end.verdict == Discard()
    assert len(list((tmp_path / "mail/example.jp/taro/.Junk/new").iterdir())) == 1


def test_a_spam_folder_that_cannot_take_its_copy_takes_the_others_back(
    new_transaction: Callable[[], MailTransaction], tmp_path: Path, store: Store
) -> None:
    """taro's copy is written, hanako's .Junk cannot take one (its new/ is not a folder):
    the message is deferred and taro's spam folder keeps no copy without a row, which a
    sender that never retries would leave there for good."""
    with store.transaction() as session:
        hanako = accounts.require_account(session, "hanako@example.jp")
        add_values(session, hanako.id, REJECT_FROM, ["bad.example"])
    junk = tmp_path / "mail/example.jp/hanako/.Junk"
    for sub in ("tmp", "cur"):
        (junk / sub).mkdir(parents=True)
    (junk / "new").write_bytes(b"")
    recipients = ["<taro@example.jp>", "<hanako@example.jp>"]
    with pytest.raises(NotADirectoryError):
        run(new_transaction(), "x@bad.example", recipients, [b"caught\r\n"])
    assert list((tmp_path / "mail/example.jp/taro/.Junk/new").iterdir()) == []
    with store.read() as session:
        assert session.query(QuarantinedMessage).count() == 0


def test_a_mailbox_deleted_before_its_copy_is_recorded_defers_instead_of_dropping(
    new_transaction: Callable[[], MailTransaction], tmp_path: Path, store: Store
) -> None:
    """The row cannot be written (its account is gone): that is not "recorded by another
    attempt", so the recipient must not be removed; the error defers the message (451)."""
    transaction = new_transaction()
    transaction.sender = "x@bad.example"
    assert transaction.add_recipient("<taro@example.jp>") == Continue()
    transaction.add_header("From", "x@bad.example")
    assert transaction.end_of_headers() == Continue()
    transaction.add_body(b"caught\r\n")
    with store.transaction() as session:
        session.delete(accounts.require_account(session, "taro@example.jp"))
    with pytest.raises(IntegrityError):
        transaction.end_of_message()
    transaction.close()
    assert not any((tmp_path / "mail/example.jp/taro/.Junk/new").iterdir())


def test_a_released_copy_says_where_it_came_from_and_not_why_it_was_caught(
    new_transaction: Callable[[], MailTransaction], tmp_path: Path, store: Store
) -> None:
    """Postfix's Received field and X-Original-To are not shown to a milter: the copy gets
    them from the session, so the mail released to the inbox still has its relay trace."""
    transaction = new_transaction()
    transaction.client_address = "203.0.113.9"
    transaction.client_name = "mx.bad.example"
    transaction.helo = "helo.bad.example"
    transaction.server_name = "mx.example.jp"
    end = run(transaction, "<x@bad.example>", ['<"Taro"@Example.JP>'], [b"hi\r\n"])
    assert isinstance(end, EndOfMessage)
    (copy,) = (tmp_path / "mail/example.jp/taro/.Junk/new").iterdir()
    quarantined = message_from_bytes(copy.read_bytes())
    assert quarantined["X-Sekisho-Quarantine-Reason"].startswith("rule=reject_from;")
    with store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        (record,) = quarantine_page(session, taro).entries
    folder = QuarantineFolder(store, tmp_path / "mail", Ownership())
    assert folder.release(taro, record.id) is Outcome.DONE
    (inbox_copy,) = (tmp_path / "mail/example.jp/taro/new").iterdir()
    released = message_from_bytes(inbox_copy.read_bytes())
    assert released["X-Sekisho-Quarantine-Reason"] is None
    assert released["X-Original-To"] == '"Taro"@Example.JP'
    assert released["Delivered-To"] == "taro@example.jp"
    received = " ".join(released["Received"].split())
    assert received.startswith(
        "from helo.bad.example (mx.bad.example [203.0.113.9]) "
        "by mx.example.jp (Postfix) with ESMTP id Q1; "
    )
    assert released.keys()[:4] == ["Return-Path", "X-Original-To", "Delivered-To", "Received"]
