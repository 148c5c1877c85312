"""The spam folder's copies on disk and their rows together: release, delete, purge and the
safe view, with real Maildirs and the store on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sekisho import maildir
from sekisho.cli import main
from sekisho.envelope import Envelope
from sekisho.maildir import Ownership
from sekisho.milter.quarantine import Quarantine
from sekisho.quarantine_folder import Outcome, QuarantineFolder, safe_view
from sekisho.rules.model import RuleHit
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.models import QuarantinedMessage, utcnow
from sekisho.store.policies import load_policy
from sekisho.store.quarantine import quarantine_page

HIT = RuleHit("reject_from", "bad.example", "x@bad.example")


def message(subject: str, body: str = "Hello.\n") -> list[bytes]:
    return [f"From: x@bad.example\nSubject: {subject}\n\n{body}".encode()]


@pytest.fixture
def folder(store: Store, example_domain: str, mail_root: Path) -> QuarantineFolder:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        accounts.add_account(session, "hanako@example.jp", "secret123")
    return QuarantineFolder(store, mail_root, Ownership())


def quarantine(
    store: Store,
    mail_root: Path,
    subject: str,
    address: str = "taro@example.jp",
    hit: RuleHit = HIT,
    raw: bytes | None = None,
    sender: str = "x@bad.example",
) -> int:
    """The copy of ``message(subject)``, or of ``raw``, as the milter quarantines it."""
    policy = load_policy(store, address)
    assert policy is not None
    Quarantine(store, mail_root, Ownership()).put(
        policy,
        hit,
        sender,
        subject,
        "Q1",
        f"key-{subject}",
        message(subject) if raw is None else [raw],
        Envelope(recipients=(f"<{address}>",), client_address="192.0.2.7", queue_id="Q1"),
    )
    with store.read() as session:
        records = quarantine_page(session, policy.account_id).entries
    return next(r.id for r in records if r.subject == subject)


def taro(store: Store) -> int:
    with store.read() as session:
        return accounts.require_account(session, "taro@example.jp").id


def files(folder: Path) -> list[Path]:
    return (
        sorted(p for sub in ("new", "cur") for p in (folder / sub).glob("*"))
        if folder.exists()
        else []
    )


def test_release_moves_the_copy_into_the_inbox_exactly_once(
    folder: QuarantineFolder, store: Store, mail_root: Path
) -> None:
    record_id = quarantine(store, mail_root, "caught")
    mailbox = mail_root / "example.jp/taro"
    assert len(files(mailbox / ".Junk")) == 1
    assert folder.release(taro(store), record_id) is Outcome.DONE
    assert folder.release(taro(store), record_id) is Outcome.ALREADY
    assert files(mailbox / ".Junk") == []
    (inbox_copy,) = files(mailbox)
    assert b"Subject: caught" in inbox_copy.read_bytes()
    with store.read() as session:
        record = session.get(QuarantinedMessage, record_id)
        assert record is not None
        assert record.released_at is not None


def test_the_released_copy_is_the_quarantined_one_without_its_reason(
    folder: QuarantineFolder, store: Store, mail_root: Path
) -> None:
    """The reason speaks of the spam folder; in the inbox it would only mislead a filter.
    Everything else stays byte for byte, a folded Japanese reason goes whole."""
    hit = RuleHit("reject_subject", "未承諾広告", "【未承諾広告】今だけ 半額セール" * 4)
    record_id = quarantine(store, mail_root, "long reason", hit=hit)
    (junk_copy,) = files(mail_root / "example.jp/taro/.Junk")
    quarantined = junk_copy.read_bytes()
    assert quarantined.count(b"\n =?utf-8?b?") > 2
    assert folder.release(taro(store), record_id) is Outcome.DONE
    (inbox_copy,) = files(mail_root / "example.jp/taro")
    released = inbox_copy.read_bytes()
    assert b"X-Sekisho-Quarantine-Reason" not in released
    assert b"=?utf-8?b?" not in released
    head, _, body = quarantined.partition(b"\n\n")
    kept = [
        line
        for line in head.split(b"\n")
        if not line.startswith((b"X-Sekisho-Quarantine-Reason:", b" "))
    ]
    assert released == b"\n".join(kept) + b"\n\n" + body
    assert released.startswith(b"Return-Path: <x@bad.example>\nX-Original-To: taro@example.jp\n")
    assert b"Received: from unknown (unknown [192.0.2.7])" in released


def test_a_copy_read_while_it_is_released_is_released_once(
    folder: QuarantineFolder, store: Store, mail_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mail program marks the copy read (renames it) while the release rewrites it:
    the rewrite is not renamed over the old name (two copies), the release starts over."""
    record_id = quarantine(store, mail_root, "read meanwhile")
    junk = mail_root / "example.jp/taro/.Junk"
    (fresh,) = (junk / "new").iterdir()
    real_written = maildir._written

    def written_then_read(*args: Any) -> tuple[Path, int]:
        result = real_written(*args)
        if fresh.exists():
            os.rename(fresh, junk / "cur" / f"{fresh.name}:2,S")
        return result

    monkeypatch.setattr(maildir, "_written", written_then_read)
    assert folder.release(taro(store), record_id) is Outcome.DONE
    assert files(junk) == []
    (inbox_copy,) = files(mail_root / "example.jp/taro")
    assert b"X-Sekisho-Quarantine-Reason" not in inbox_copy.read_bytes()
    assert list((junk / "tmp").iterdir()) == []


def test_release_finds_a_copy_the_mail_program_already_read(
    folder: QuarantineFolder, store: Store, mail_root: Path
) -> None:
    record_id = quarantine(store, mail_root, "seen")
    junk = mail_root / "example.jp/taro/.Junk"
    (fresh,) = (junk / "new").iterdir()
    os.rename(fresh, junk / "cur" / f"{fresh.name}:2,S")  # what Dovecot does once it is read
    assert folder.release(taro(store), record_id) is Outcome.DONE
    (inbox_copy,) = files(mail_root / "example.jp/taro")
    assert inbox_copy.name == fresh.name  # flags dropped: new again in the inbox


def test_a_copy_gone_from_disk_is_answered_and_forgotten(
    folder: QuarantineFolder, store: Store, mail_root: Path
) -> None:
    record_id = quarantine(store, mail_root, "moved away")
    for path in files(mail_root / "example.jp/taro/.Junk"):
        path.unlink()
    assert folder.release(taro(store), record_id) is Outcome.GONE
    with store.read() as session:
        assert quarantine_page(session, taro(store)).entries == []


def test_another_mailboxs_copy_cannot_be_touched(
    folder: QuarantineFolder, store: Store, mail_root: Path
) -> None:
    record_id = quarantine(store, mail_root, "hanako's", "hanako@example.jp")
    assert folder.release(taro(store), record_id) is Outcome.UNKNOWN
    assert folder.delete(taro(store), record_id) is Outcome.UNKNOWN
    assert folder.view(taro(store), record_id) is None
    assert len(files(mail_root / "example.jp/hanako/.Junk")) == 1


def test_delete_removes_the_copy_and_its_row_and_leaves_other_junk_alone(
    folder: QuarantineFolder, store: Store, mail_root: Path
) -> None:
    record_id = quarantine(store, mail_root, "to delete")
    junk = mail_root / "example.jp/taro/.Junk"
    own = junk / "cur" / "1.owner-moved-this:2,S"  # put into Junk by the owner's mail program
    own.write_bytes(b"Subject: mine\n\nx\n")
    assert folder.delete(taro(store), record_id) is Outcome.DONE
    assert files(junk) == [own]
    with store.read() as session:
        assert quarantine_page(session, taro(store)).entries == []


def test_purge_deletes_what_is_older_than_the_retention_and_nothing_younger(
    folder: QuarantineFolder, store: Store, mail_root: Path
) -> None:
    old = quarantine(store, mail_root, "eight days ago")
    young = quarantine(store, mail_root, "six days ago")
    now = utcnow()
    with store.transaction() as session:
        for record_id, age in ((old, 8), (young, 6)):
            record = session.get(QuarantinedMessage, record_id)
            assert record is not None
            record.received_at = now - timedelta(days=age)
            record.expires_at = record.received_at + timedelta(days=7)
    assert folder.purge(now) == 1
    (left,) = files(mail_root / "example.jp/taro/.Junk")
    assert b"six days ago" in left.read_bytes()
    with store.read() as session:
        assert [r.subject for r in quarantine_page(session, taro(store)).entries] == [
            "six days ago"
        ]


def test_purge_command_uses_the_given_time(
    folder: QuarantineFolder, store: Store, mail_root: Path
) -> None:
    quarantine(store, mail_root, "due")
    environment = {"SEKISHO_DATABASE_URL": store.database_url, "SEKISHO_MAIL_ROOT": str(mail_root)}
    soon = (utcnow() + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M:%S%z")
    later = (utcnow() + timedelta(days=7, minutes=1)).strftime("%Y-%m-%dT%H:%M:%S%z")
    runner = CliRunner()
    assert "purged 0 " in runner.invoke(main, ["purge", "--now", soon], env=environment).output
    output = runner.invoke(main, ["purge", "--now", later], env=environment).output
    assert "purged 1 " in output
    assert "deleted 0 rows past their keeping time (outbox, login attempts," in output
    assert files(mail_root / "example.jp/taro/.Junk") == []


def test_safe_view_never_renders_html() -> None:
    raw = (
        b"From: shop@ads.example\nSubject: =?UTF-8?B?44K744O844Or?=\nMIME-Version: 1.0\n"
        b"Content-Type: text/html; charset=utf-8\n\n"
        b"<html><script>alert(1)</script><p>Buy <b>now</b></p><img src='http://t.example/x'>"
        b"<br>Bye</html>\n"
    )
    shown = safe_view(raw)
    assert ("Subject", "セール") in shown.headers
    assert "Buy now" in shown.body
    assert "Bye" in shown.body
    assert "alert" not in shown.body
    assert "<" not in shown.body


def test_safe_view_decodes_a_japanese_body() -> None:
    body = "未承諾広告のお知らせ\n".encode("iso2022_jp")
    raw = (
        b"From: a@b.example\nSubject: x\nMIME-Version: 1.0\n"
        b'Content-Type: text/plain; charset="ISO-2022-JP"\nContent-Transfer-Encoding: 7bit\n\n'
        + body
    )
    assert safe_view(raw).body.strip() == "未承諾広告のお知らせ"


@pytest.mark.parametrize(
    "raw",
    [
        b"From: <\n\nx",
        b"Subject: =?x?q?\nContent-Type: multipart/mixed; boundary=\n\n--\n",
        b"Content-Type: text/plain; charset=no-such-charset\n\nhello",
        b"Content-Transfer-Encoding: base64\n\n!!!!",
    ],
)
def test_safe_view_survives_broken_mail(raw: bytes) -> None:
    shown = safe_view(raw)
    assert isinstance(shown.body, str)


def test_purge_goes_on_past_a_copy_it_cannot_delete(
    folder: QuarantineFolder, store: Store, mail_root: Path
) -> None:
    stuck = quarantine(store, mail_root, "stuck")
    quarantine(store, mail_root, "free")
    junk = mail_root / "example.jp/taro/.Junk"
    with store.read() as session:
        record = session.get(QuarantinedMessage, stuck)
        assert record is not None
        stuck_file = junk / "new" / record.file_name
    stuck_file.unlink()
    stuck_file.mkdir()  # unlink() of a folder fails, as a broken file would
    (stuck_file / "x").touch()
    purged = folder.purge(utcnow() + timedelta(days=8))
    assert purged == 1
    assert [p.name for p in files(junk)] == [stuck_file.name]
    with store.read() as session:
        assert [r.subject for r in quarantine_page(session, taro(store)).entries] == ["stuck"]
