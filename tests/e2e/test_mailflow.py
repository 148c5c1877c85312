"""Through real Postfix: the From reject list quarantines per recipient."""

from __future__ import annotations

import json
import shutil
import smtplib
import subprocess
import sys
from email import message_from_bytes
from pathlib import Path

import pytest

from sekisho.maildir import Ownership
from sekisho.quarantine_folder import Outcome, QuarantineFolder
from sekisho.store import accounts
from sekisho.store.quarantine import quarantine_page
from tests.e2e.conftest import MailHarness, start_harness

SEKISHO = str(Path(sys.executable).with_name("sekisho"))


def import_settings(mail: MailHarness, address: str, document: object) -> None:
    subprocess.run(
        [SEKISHO, "settings", "import", address, "-"],
        check=True,
        input=json.dumps(document),
        text=True,
        capture_output=True,
        env={
            "SEKISHO_DATABASE_URL": mail.stack.database_url,
            "SEKISHO_SECRET_KEY": "test",
            "PATH": "/usr/bin:/bin",
        },
    )


def test_one_transaction_two_recipients_only_taro_quarantines(mail: MailHarness) -> None:
    mail.add_account("taro@example.jp")
    mail.add_account("hanako@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})

    refused = mail.send(
        "someone@bad.example", ["taro@example.jp", "hanako@example.jp"], subject="first"
    )
    assert refused == {}
    mail.wait_for_files("example.jp/hanako/new")
    mail.wait_until_delivered()

    files = mail.files()
    assert set(files) == {"example.jp/taro/.Junk/new", "example.jp/hanako/new"}
    assert len(files["example.jp/taro/.Junk/new"]) == 1
    assert len(files["example.jp/hanako/new"]) == 1
    quarantined = files["example.jp/taro/.Junk/new"][0].read_text()
    assert (
        'X-Sekisho-Quarantine-Reason: rule=reject_from; entry="bad.example"; '
        'matched="someone@bad.example"'
    ) in quarantined
    assert "Subject: first" in quarantined
    assert "Delivered-To: taro@example.jp" in quarantined
    assert "\r\n" not in quarantined
    delivered = files["example.jp/hanako/new"][0].read_text()
    assert "X-Sekisho-Quarantine-Reason" not in delivered
    assert "Subject: first" in delivered
    with mail.store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp")
        (record,) = quarantine_page(session, taro.id).entries
    assert (record.rule, record.entry, record.sender, record.subject) == (
        "reject_from",
        "bad.example",
        "someone@bad.example",
        "first",
    )
    assert record.file_name == files["example.jp/taro/.Junk/new"][0].name
    assert (record.expires_at - record.received_at).days == 7
    # The milter's log names the Postfix queue id and each recipient's decision.
    assert record.queue_id != "NOQUEUE"
    assert (
        f"decisions queue_id={record.queue_id} taro@example.jp=quarantine:reject_from:"
        f'"bad.example" hanako@example.jp=deliver'
    ) in mail.stack.milter.log_text()
    # The quarantine folder is a Maildir++ folder the delivery agent's uid owns.
    junk = mail.mail_root / "example.jp/taro/.Junk"
    assert (junk / "maildirfolder").exists()
    assert junk.stat().st_uid == 5000
    assert files["example.jp/taro/.Junk/new"][0].stat().st_uid == 5000


def test_every_recipient_quarantined_means_nothing_delivered(mail: MailHarness) -> None:
    mail.add_account("taro@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})
    assert mail.send("x@news.bad.example", ["taro@example.jp"]) == {}
    mail.wait_for_files("example.jp/taro/.Junk/new")
    mail.wait_until_delivered()
    assert set(mail.files()) == {"example.jp/taro/.Junk/new"}
    log = mail.stack.postfix.log_file.read_text() if mail.stack.postfix else ""
    assert "milter-discard" in log


def test_header_from_is_matched_too(mail: MailHarness) -> None:
    mail.add_account("taro@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_from": ["spam@shop.example"]})
    mail.send("bounces@esp.example", ["taro@example.jp"], from_header="Shop <SPAM@shop.example>")
    (copy,) = mail.wait_for_files("example.jp/taro/.Junk/new")
    assert 'matched="spam@shop.example"' in copy.read_text()


def test_clean_mail_and_unknown_mailboxes_are_untouched(mail: MailHarness) -> None:
    mail.add_account("taro@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})
    mail.add_account("nosettings@example.jp")
    mail.send("friend@good.example", ["taro@example.jp", "nosettings@example.jp"])
    mail.wait_for_files("example.jp/taro/new")
    mail.wait_for_files("example.jp/nosettings/new")
    mail.wait_until_delivered()
    assert set(mail.files()) == {"example.jp/taro/new", "example.jp/nosettings/new"}


def test_a_settings_change_applies_to_the_next_mail(mail: MailHarness) -> None:
    mail.add_account("taro@example.jp")
    mail.send("someone@bad.example", ["taro@example.jp"])
    mail.wait_for_files("example.jp/taro/new")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})
    mail.send("someone@bad.example", ["taro@example.jp"])
    mail.wait_for_files("example.jp/taro/.Junk/new")
    mail.wait_until_delivered()
    assert len(mail.files()["example.jp/taro/new"]) == 1


def test_large_message_is_quarantined_whole(mail: MailHarness) -> None:
    mail.add_account("taro@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})
    line = "0123456789" * 7 + "\n"
    body = line * 40_000  # ~2.8 MB: spooled to disk above spool_memory_bytes
    mail.send("someone@bad.example", ["taro@example.jp"], body=body)
    (copy,) = mail.wait_for_files("example.jp/taro/.Junk/new", timeout=30)
    text = copy.read_text()
    assert text.count(line) == 40_000
    assert text.endswith(line)


def test_raw_8bit_headers_and_a_broken_from_are_kept_byte_for_byte(mail: MailHarness) -> None:
    """Malformed input is not a reason to lose or alter mail: the copy keeps the raw bytes
    (after Postfix's own header rewriting, which the delivered copy shows as well)."""
    mail.add_account("taro@example.jp")
    mail.add_account("hanako@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})
    subject = "未承諾広告 テスト".encode("shift_jis")
    raw = (
        b"From: <<<not an address>>>\r\n"
        b"To: taro@example.jp\r\n"
        b"Subject: " + subject + b"\r\n"
        b"Message-ID: <raw-1@bad.example>\r\n"
        b"\r\n"
        b"\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\r\n"
    )
    with smtplib.SMTP("127.0.0.1", mail.stack.smtp_port) as client:
        client.sendmail("someone@bad.example", ["taro@example.jp", "hanako@example.jp"], raw)
    (copy,) = mail.wait_for_files("example.jp/taro/.Junk/new")
    (delivered,) = mail.wait_for_files("example.jp/hanako/new")
    quarantined = copy.read_bytes()
    assert b"Subject: " + subject + b"\n" in quarantined
    assert quarantined.endswith(b"\n\n\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd\n")
    # The quarantined copy is the message hanako got, its trace written by sekisho.
    head, _, body = delivered.read_bytes().partition(b"\n\n")
    q_head, _, q_body = quarantined.partition(b"\n\n")
    assert q_body == body
    assert untraced(header_fields(q_head)) == untraced(header_fields(head))
    with mail.store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp")
        (record,) = quarantine_page(session, taro.id).entries
    assert record.subject == "未承諾広告 テスト"


def untraced(fields: list[bytes]) -> list[bytes]:
    trace = (b"Return-Path:", b"X-Original-To:", b"Delivered-To:", b"Received:")
    return [field for field in fields if not field.startswith((*trace, b"X-Sekisho-"))]


def header_fields(head: bytes) -> list[bytes]:
    """Header fields with their folded continuation lines kept together."""
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\n" + line
        else:
            fields.append(line)
    return fields


def test_recipient_spelling_and_null_sender(mail: MailHarness) -> None:
    """Case and quoting of RCPT do not skip the filter; a bounce (null sender) is still
    matched by its header From."""
    mail.add_account("taro@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})
    assert mail.send("x@bad.example", ['"TARO"@Example.JP']) == {}
    mail.send("", ["taro@example.jp"], from_header="MAILER-DAEMON@mx.bad.example")
    copies = mail.wait_for_files("example.jp/taro/.Junk/new", count=2)
    mail.wait_until_delivered()
    assert set(mail.files()) == {"example.jp/taro/.Junk/new"}
    reasons = sorted(
        c.read_text().split("X-Sekisho-Quarantine-Reason: ")[1].split("\n")[0] for c in copies
    )
    assert reasons == [
        'rule=reject_from; entry="bad.example"; matched="mailer-daemon@mx.bad.example"',
        'rule=reject_from; entry="bad.example"; matched="x@bad.example"',
    ]


def test_unwritable_quarantine_defers_everyone_then_the_retry_delivers(
    mail: MailHarness,
) -> None:
    """A disk or permission problem in the quarantine is a 4xx for the whole message:
    hanako does not get a copy that taro's filter could not handle, and nothing is lost."""
    mail.add_account("taro@example.jp")
    mail.add_account("hanako@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})
    blocker = mail.mail_root / "example.jp" / "taro"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    shutil.chown(blocker.parent, 5000, 5000)  # the domain folder stays the delivery uid's
    blocker.write_text("a file where the Maildir should be")
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        mail.send("x@bad.example", ["taro@example.jp", "hanako@example.jp"], subject="once")
    assert deferred.value.smtp_code == 451
    assert b"4.3.0 Temporary mail filter problem" in deferred.value.smtp_error
    mail.wait_until_delivered()
    assert mail.files() == {}

    blocker.unlink()  # the operator fixes the disk; the client's retry goes through
    assert (
        mail.send("x@bad.example", ["taro@example.jp", "hanako@example.jp"], subject="once") == {}
    )
    mail.wait_for_files("example.jp/hanako/new")
    mail.wait_for_files("example.jp/taro/.Junk/new")
    mail.wait_until_delivered()
    assert {k: len(v) for k, v in mail.files().items()} == {
        "example.jp/hanako/new": 1,
        "example.jp/taro/.Junk/new": 1,
    }


def test_milter_on_tcp_quarantines_too(run_root: Path) -> None:
    """inet: listening (TCP_NODELAY set on libmilter's socket) works end to end."""
    harness = start_harness(run_root / "tcp", milter_transport="inet")
    mail = next(harness)
    try:
        mail.reset()
        mail.add_account("taro@example.jp")
        mail.add_account("hanako@example.jp")
        import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})
        mail.send("x@bad.example", ["taro@example.jp", "hanako@example.jp"])
        mail.wait_for_files("example.jp/taro/.Junk/new")
        mail.wait_for_files("example.jp/hanako/new")
        mail.wait_until_delivered()
        assert set(mail.files()) == {"example.jp/taro/.Junk/new", "example.jp/hanako/new"}
    finally:
        harness.close()


def test_a_released_copy_has_postfixs_trace_and_no_reason(mail: MailHarness) -> None:
    """Postfix writes Received and X-Original-To into the copies it delivers, not into
    the message a milter sees: the quarantine copy gets the same from sekisho, so a mail
    released from the spam folder still shows the relay and the client's address."""
    mail.add_account("taro@example.jp")
    mail.add_account("hanako@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_subject": ["未承諾広告"]})
    mail.send("shop@ads.example", ["Taro@Example.JP", "hanako@example.jp"], subject="未承諾広告")
    (delivered,) = mail.wait_for_files("example.jp/hanako/new")
    mail.wait_for_files("example.jp/taro/.Junk/new")
    with mail.store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        (record,) = quarantine_page(session, taro).entries
    folder = QuarantineFolder(mail.store, mail.mail_root, Ownership((5000, 5000)))
    assert folder.release(taro, record.id) is Outcome.DONE
    (inbox_copy,) = mail.wait_for_files("example.jp/taro/new")
    released = message_from_bytes(inbox_copy.read_bytes())
    hanakos = message_from_bytes(delivered.read_bytes())
    assert released["X-Sekisho-Quarantine-Reason"] is None
    assert released["X-Original-To"] == "Taro@Example.JP"
    assert hanakos["X-Original-To"] == "hanako@example.jp"
    received = " ".join(released["Received"].split()).rpartition(";")[0]
    assert "[127.0.0.1]" in received
    assert received == " ".join(hanakos["Received"].split()).rpartition(";")[0]
    assert inbox_copy.stat().st_uid == 5000
