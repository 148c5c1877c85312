"""Through real Postfix with the real clamd (test signatures) and the worker: an infected
mail is removed and reported where the scan is on and delivered, marked, where it is off;
a zipped virus is found; clamd down or a message over clamd's limit defers, never passes.
And the submission listener (SASL through Dovecot): the outbound virus scan and the
国外からのメール送信制限 on a test country database."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from sekisho.devstack.clamd import EICAR, ClamdInstance
from sekisho.rules.abroad import UNLOCK_PERIOD
from tests.countrydb import ABROAD_CLIENT, JAPAN_CLIENT, write_country_db
from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_mailflow import import_settings
from tests.test_virus_scan import infected_mail

EICAR_NAME = "Sekisho.Test.EICAR.UNOFFICIAL"
ZIPPED_NAME = "Sekisho.Test.Zipped.UNOFFICIAL"
TARO_INBOX = "example.jp/taro/new"
HANAKO_INBOX = "example.jp/hanako/new"


@pytest.fixture(scope="module")
def small_clamd(run_root: Path) -> Iterator[ClamdInstance]:
    """A clamd of its own (stopped by a test) with a 1 MB stream limit, so the limit's
    answer is reached with a small message."""
    daemon = ClamdInstance(run_root / "virus-clamd", stream_max_length="1M")
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def virus_stack(run_root: Path, small_clamd: ClamdInstance) -> Iterator[MailHarness]:
    yield from start_harness(run_root / "virus", with_worker=True, clamd=small_clamd.url)


@pytest.fixture
def mail(virus_stack: MailHarness) -> MailHarness:
    virus_stack.reset()
    virus_stack.add_account("taro@example.jp")
    virus_stack.add_account("hanako@example.jp")
    import_settings(virus_stack, "taro@example.jp", {"virus_scan": True})
    return virus_stack


def send_bytes(mail: MailHarness, recipients: list[str], data: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", mail.stack.smtp_port, timeout=30) as client:
        assert client.sendmail("shop@bad.example", recipients, data) == {}


def parsed(path: Path) -> EmailMessage:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_an_infected_mail_is_reported_to_one_and_delivered_marked_to_the_other(
    mail: MailHarness,
) -> None:
    send_bytes(mail, ["taro@example.jp", "hanako@example.jp"], infected_mail())
    (report_file,) = mail.wait_for_files(TARO_INBOX)  # the worker's report, nothing else
    (hanako_file,) = mail.wait_for_files(HANAKO_INBOX)
    mail.wait_until_delivered()
    report = parsed(report_file)
    assert report["X-Sekisho-Notice"] == "virus"
    assert report["Return-Path"] == "<>"
    assert EICAR not in report_file.read_bytes()
    text, attached = list(report.iter_parts())
    body = text.get_content()
    assert "ウィルス: Sekisho.Test." in body
    assert "送信者: shop@bad.example" in body
    assert "件名: 請求書をお送りします" in body
    original = attached.get_content()
    assert original["Subject"] == "請求書をお送りします"
    removed = [part.get_content() for part in original.iter_attachments()]
    assert any(f"({ZIPPED_NAME})" in text and "invoice.zip" in text for text in removed)
    assert any(f"({EICAR_NAME})" in text and "eicar.com" in text for text in removed)
    hanako = parsed(hanako_file)
    assert hanako["X-Sekisho-Virus"] in {EICAR_NAME, ZIPPED_NAME}  # her choice: delivered
    assert [part.get_content() for part in hanako.iter_attachments()][-1] == EICAR


def test_a_clean_mail_reaches_both_marked_clean(mail: MailHarness) -> None:
    mail.send("friend@ok.example", ["taro@example.jp", "hanako@example.jp"], subject="lunch")
    for folder in (TARO_INBOX, HANAKO_INBOX):
        (copy,) = mail.wait_for_files(folder)
        assert parsed(copy)["X-Sekisho-Virus"] == "clean"


def test_clamd_down_defers_and_the_retry_is_scanned(
    mail: MailHarness, small_clamd: ClamdInstance
) -> None:
    small_clamd.stop()
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send_bytes(mail, ["taro@example.jp"], infected_mail())
        assert refused.value.smtp_code == 451
        assert b"4.7.1 Virus scan temporarily unavailable" in refused.value.smtp_error
    finally:
        small_clamd.start()
    send_bytes(mail, ["taro@example.jp"], infected_mail())
    (report_file,) = mail.wait_for_files(TARO_INBOX)
    assert parsed(report_file)["X-Sekisho-Notice"] == "virus"


def test_a_message_over_clamds_limit_is_deferred_not_passed(mail: MailHarness) -> None:
    big = b"Subject: big\r\nFrom: shop@bad.example\r\n\r\n" + b"x" * 1500 * 1024 + b"\r\n"
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send_bytes(mail, ["taro@example.jp", "hanako@example.jp"], big)
    assert refused.value.smtp_code == 451
    mail.wait_until_delivered()
    assert mail.files() == {}


@pytest.fixture(scope="module")
def submission_stack(run_root: Path, clamd: ClamdInstance) -> Iterator[MailHarness]:
    yield from start_harness(run_root / "submission", with_dovecot=True, clamd=clamd.url)


def test_an_infected_submission_is_refused_with_the_virus_named(
    submission_stack: MailHarness,
) -> None:
    """Through the submission listener with SASL through Dovecot (its passdb is the store):
    taro has the scan on and gets 554 5.7.1 naming the virus; hanako has it off."""
    mail = submission_stack
    mail.reset()
    mail.add_account("taro@example.jp", "taro1234")
    mail.add_account("hanako@example.jp", "hanako123")
    import_settings(mail, "taro@example.jp", {"virus_scan": True})
    infected = b"From: taro@example.jp\r\nSubject: file\r\n\r\n" + EICAR + b"\r\n"
    with smtplib.SMTP("127.0.0.1", mail.stack.submission_port, timeout=30) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login("taro@example.jp", "wrong-password")
        client.login("taro@example.jp", "taro1234")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            client.sendmail("taro@example.jp", ["hanako@example.jp"], infected)
    assert refused.value.smtp_code == 554
    assert b"5.7.1 Virus found (" + EICAR_NAME.encode() + b")" in refused.value.smtp_error
    with smtplib.SMTP("127.0.0.1", mail.stack.submission_port, timeout=30) as client:
        client.login("hanako@example.jp", "hanako123")
        # Not hers to send as (Postfix answers at RCPT: smtpd_delay_reject).
        with pytest.raises(smtplib.SMTPRecipientsRefused) as forged:
            client.sendmail("taro@example.jp", ["hanako@example.jp"], infected)
        code, reply = forged.value.recipients["hanako@example.jp"]
        assert code == 553
        assert b"not owned by user hanako@example.jp" in reply
        assert client.sendmail("hanako@example.jp", ["hanako@example.jp"], infected) == {}
    (copy,) = mail.wait_for_files(HANAKO_INBOX)
    assert parsed(copy)["X-Sekisho-Virus"] is None  # nobody here asked for a scan


@pytest.fixture(scope="module")
def abroad_stack(run_root: Path) -> Iterator[MailHarness]:
    """Submission with the test country database: 127.0.0.2 is in the United States,
    127.0.0.3 in Japan, and loopback does not count as domestic here."""
    folder = run_root / "abroad"
    folder.mkdir(parents=True, exist_ok=True)
    database = write_country_db(folder / "countries.mmdb")
    database.chmod(0o644)
    environment = {
        "SEKISHO_GEOIP_DB": str(database),
        "SEKISHO_LOCAL_NETWORKS_ARE_DOMESTIC": "false",
    }
    yield from start_harness(folder, with_dovecot=True, extra_environment=environment)


def submit_from(mail: MailHarness, client_address: str) -> None:
    with smtplib.SMTP(
        "127.0.0.1", mail.stack.submission_port, timeout=30, source_address=(client_address, 0)
    ) as client:
        client.login("taro@example.jp", "taro1234")
        client.sendmail("taro@example.jp", ["hanako@example.jp"], b"Subject: hi\r\n\r\nhi\r\n")


def test_submission_from_abroad_is_refused_until_lifted_for_a_week(
    abroad_stack: MailHarness,
) -> None:
    mail = abroad_stack
    mail.reset()
    mail.add_account("taro@example.jp", "taro1234")
    mail.add_account("hanako@example.jp", "hanako123")
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        submit_from(mail, ABROAD_CLIENT)
    assert refused.value.smtp_code == 550
    assert b"5.7.1 Sending from outside Japan is restricted" in refused.value.smtp_error
    submit_from(mail, JAPAN_CLIENT)
    mail.wait_for_files(HANAKO_INBOX)

    now = datetime.now(UTC)
    import_settings(
        mail, "taro@example.jp", {"abroad_send_unlocked_until": (now + UNLOCK_PERIOD).isoformat()}
    )
    submit_from(mail, ABROAD_CLIENT)  # lifted
    mail.wait_for_files(HANAKO_INBOX, count=2)
    # The week, seen from 7 days and 1 minute on: it began before that and is over.
    over = now - timedelta(minutes=1)
    import_settings(mail, "taro@example.jp", {"abroad_send_unlocked_until": over.isoformat()})
    with pytest.raises(smtplib.SMTPSenderRefused):
        submit_from(mail, ABROAD_CLIENT)
    inbound = mail.send("someone@abroad.example", ["taro@example.jp"], subject="receiving")
    assert inbound == {}  # receiving is never restricted
