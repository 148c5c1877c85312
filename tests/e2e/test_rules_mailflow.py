"""Through real Postfix: the Subject list on Japanese subjects, the five header checks on
raw SMTP DATA, the allow list over the From list, and the hit counters the milter writes."""

from __future__ import annotations

import base64
import smtplib
import time
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest

from sekisho.rules.lists import REJECT_FROM
from sekisho.store import accounts
from sekisho.store.lists import export_rows
from sekisho.store.quarantine import quarantine_page
from tests.e2e.conftest import MailHarness
from tests.e2e.test_mailflow import import_settings

TARO_JUNK = "example.jp/taro/.Junk/new"
HANAKO_INBOX = "example.jp/hanako/new"


def send_raw(mail: MailHarness, sender: str, recipients: list[str], data: bytes) -> None:
    """DATA exactly as given: smtplib adds no header to a bytes message."""
    with smtplib.SMTP("127.0.0.1", mail.stack.smtp_port, timeout=30) as client:
        assert client.sendmail(sender, recipients, data) == {}


def iso_2022_jp_word(text: str) -> str:
    return "=?ISO-2022-JP?B?" + base64.b64encode(text.encode("iso2022_jp")).decode() + "?="


def test_japanese_encoded_subject_is_quarantined_only_where_listed(mail: MailHarness) -> None:
    mail.add_account("taro@example.jp")
    mail.add_account("hanako@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_subject": ["未承諾広告"]})
    subject = iso_2022_jp_word("【未承諾広告】今だけ") + "\r\n " + iso_2022_jp_word("半額セール")
    send_raw(
        mail,
        "shop@ads.example",
        ["taro@example.jp", "hanako@example.jp"],
        (
            "From: shop@ads.example\r\nTo: taro@example.jp, hanako@example.jp\r\n"
            f"Subject: {subject}\r\nMessage-ID: <jp1@ads.example>\r\n\r\nbody\r\n"
        ).encode(),
    )
    mail.wait_for_files(HANAKO_INBOX)
    (copy,) = mail.wait_for_files(TARO_JUNK)
    mail.wait_until_delivered()
    assert set(mail.files()) == {TARO_JUNK, HANAKO_INBOX}
    reason = message_from_bytes(copy.read_bytes())["X-Sekisho-Quarantine-Reason"]
    assert str(make_header(decode_header(reason))) == (
        'rule=reject_subject; entry="未承諾広告"; matched="【未承諾広告】今だけ半額セール"'
    )
    with mail.store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        (record,) = quarantine_page(session, taro).entries
    assert record.rule == "reject_subject"
    assert record.entry == "未承諾広告"
    assert record.subject == "【未承諾広告】今だけ半額セール"


@pytest.mark.parametrize(
    ("check", "headers"),
    [
        ("from_missing", b"To: taro@example.jp\r\nSubject: no from\r\n"),
        ("from_empty_angle", b"From: <>\r\nTo: taro@example.jp\r\nSubject: angle\r\n"),
        ("from_empty", b"From:\r\nTo: taro@example.jp\r\nSubject: empty from\r\n"),
        ("subject_missing", b"From: a@sender.example\r\nTo: taro@example.jp\r\n"),
        ("subject_empty", b"From: a@sender.example\r\nTo: taro@example.jp\r\nSubject:\r\n"),
    ],
)
def test_each_header_anomaly_is_caught_only_with_its_box_checked(
    mail: MailHarness, check: str, headers: bytes
) -> None:
    mail.add_account("taro@example.jp")
    mail.add_account("hanako@example.jp")
    every_other = {other: other != check for other in HEADER_CHECKS}
    import_settings(mail, "taro@example.jp", {"reject_header": {check: True}})
    import_settings(mail, "hanako@example.jp", {"reject_header": every_other})
    data = headers + b"Message-ID: <" + check.encode() + b"@sender.example>\r\n\r\nbody\r\n"
    send_raw(mail, "a@sender.example", ["taro@example.jp", "hanako@example.jp"], data)
    (copy,) = mail.wait_for_files(TARO_JUNK)
    mail.wait_for_files(HANAKO_INBOX)
    mail.wait_until_delivered()
    assert f'rule=reject_header; entry="{check}"' in copy.read_text()
    assert set(mail.files()) == {TARO_JUNK, HANAKO_INBOX}


HEADER_CHECKS = (
    "from_missing",
    "from_empty_angle",
    "from_empty",
    "subject_missing",
    "subject_empty",
)


def test_allowed_sender_on_the_reject_list_is_delivered(mail: MailHarness) -> None:
    mail.add_account("taro@example.jp")
    import_settings(
        mail,
        "taro@example.jp",
        {"reject_from": ["bad.example"], "allow_from": ["friend@bad.example"]},
    )
    mail.send("friend@bad.example", ["taro@example.jp"], subject="from a friend")
    mail.send("stranger@bad.example", ["taro@example.jp"], subject="from a stranger")
    (delivered,) = mail.wait_for_files("example.jp/taro/new")
    (caught,) = mail.wait_for_files(TARO_JUNK)
    mail.wait_until_delivered()
    assert "from a friend" in delivered.read_text()
    assert "from a stranger" in caught.read_text()


def test_hit_counters_count_what_each_entry_caught(mail: MailHarness) -> None:
    mail.add_account("taro@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example", "other.example"]})
    for number in range(3):
        mail.send(f"n{number}@bad.example", ["taro@example.jp"], subject=f"spam {number}")
    mail.wait_for_files(TARO_JUNK, count=3)
    deadline = time.monotonic() + 10  # the milter writes counters every 2 s
    while True:
        with mail.store.read() as session:
            taro = accounts.require_account(session, "taro@example.jp").id
            counts = {
                value: (count, last)
                for value, count, last in export_rows(session, taro, REJECT_FROM)
            }
        if counts["bad.example"][0] == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert counts["bad.example"][0] == 3
    assert counts["bad.example"][1] is not None
    assert counts["other.example"] == (0, None)


def test_forged_sekisho_headers_are_removed_from_delivered_and_quarantined_copies(
    mail: MailHarness,
) -> None:
    """A sender cannot hand a reader's mail filter a fake verdict: every arriving
    X-Sekisho-* field is removed, whatever its case and however many there are."""
    mail.add_account("taro@example.jp")
    mail.add_account("hanako@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})
    send_raw(
        mail,
        "shop@bad.example",
        ["taro@example.jp", "hanako@example.jp"],
        (
            b"From: shop@bad.example\r\nTo: hanako@example.jp\r\nSubject: trust me\r\n"
            b"X-Sekisho-Spam-Score: -100.0 / 15.0 (rspamd)\r\n"
            b"x-sekisho-quarantine-reason: none\r\n"
            b"X-Other: kept\r\n"
            b"X-SEKISHO-Spam-Score: -99\r\n\r\nbody\r\n"
        ),
    )
    (delivered,) = mail.wait_for_files(HANAKO_INBOX)
    (quarantined,) = mail.wait_for_files(TARO_JUNK)
    mail.wait_until_delivered()
    inbox_copy = message_from_bytes(delivered.read_bytes())
    assert [name for name in inbox_copy if name.lower().startswith("x-sekisho-")] == []
    assert inbox_copy["X-Other"] == "kept"
    assert inbox_copy["Subject"] == "trust me"
    junk_copy = message_from_bytes(quarantined.read_bytes())
    assert junk_copy.get_all("X-Sekisho-Quarantine-Reason") == [
        'rule=reject_from; entry="bad.example"; matched="shop@bad.example"'
    ]
    assert junk_copy.get_all("X-Sekisho-Spam-Score") is None
