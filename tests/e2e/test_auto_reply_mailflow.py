"""自動返信設定 through real Postfix, the milter and the worker: replies leave through the
re-injection listener; outside senders' replies are relayed to the next hop (an aiosmtpd
sink), local ones land in the Maildirs. One reply per sender, none to lists or bounces,
and two mailboxes answering each other stop after one reply each."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from sekisho.devstack.spam import RspamdInstance
from sekisho.rules.encoded_words import decode_header_text
from sekisho.store.models import OutboxMessage
from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_forward_mailflow import relayed
from tests.e2e.test_mailflow import import_settings
from tests.e2e.test_rules_mailflow import send_raw
from tests.smtpsink import Received, Sink

TARO_INBOX = "example.jp/taro/new"
HANAKO_INBOX = "example.jp/hanako/new"
AWAY = {
    "enabled": True,
    "message": "ただいま不在です。1月5日に戻ります。",
    "per_sender": [{"sender": "boss@corp.example", "message": "Back on January 5th."}],
}


@pytest.fixture(scope="module")
def reply_stack(run_root: Path, next_hop: Sink, rspamd: RspamdInstance) -> Iterator[MailHarness]:
    """With a real rspamd: a mailbox that answers has its mail scanned (no reply to spam)."""
    yield from start_harness(
        run_root / "auto-reply",
        relay=next_hop.address,
        with_worker=True,
        spam_engine=rspamd.url,
    )


@pytest.fixture
def mail(reply_stack: MailHarness, next_hop: Sink) -> MailHarness:
    reply_stack.reset()
    next_hop.received.clear()
    reply_stack.add_account("taro@example.jp")
    reply_stack.add_account("hanako@example.jp")
    import_settings(reply_stack, "taro@example.jp", {"auto_reply": AWAY})
    return reply_stack


def settled(mail: MailHarness, timeout: float = 15.0) -> None:
    """Every outbox row sent (or skipped) and Postfix's queue empty."""
    deadline = time.monotonic() + timeout
    while True:
        with mail.store.read() as session:
            waiting = session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.sent_at.is_(None))
            ).all()
        if not waiting:
            break
        assert time.monotonic() < deadline, f"outbox rows not sent: {waiting}"
        time.sleep(0.05)
    mail.wait_until_delivered()


def replies_to(sink: Sink, address: str) -> list[Received]:
    return [r for r in sink.received if r.recipients == [address]]


def test_three_mails_from_one_sender_get_one_reply_in_japanese(
    mail: MailHarness, next_hop: Sink
) -> None:
    subject = "=?ISO-2022-JP?B?" + base64.b64encode("会議の件".encode("iso2022_jp")).decode() + "?="
    for number in range(3):
        send_raw(
            mail,
            "alice@ok.example",
            ["taro@example.jp"],
            (
                f"From: Alice <alice@ok.example>\r\nTo: taro@example.jp\r\nSubject: {subject}\r\n"
                f"Message-ID: <m{number}@ok.example>\r\n\r\nhello {number}\r\n"
            ).encode(),
        )
    (reply,) = relayed(next_hop)
    mail.wait_for_files(TARO_INBOX, 3)
    settled(mail)
    assert len(next_hop.received) == 1
    assert reply.envelope_from == "<>"
    assert reply.recipients == ["alice@ok.example"]
    message = reply.message
    assert decode_header_text(str(message["Subject"])) == "Re: 会議の件"
    assert message["In-Reply-To"] == "<m0@ok.example>"
    assert message["Auto-Submitted"] == "auto-replied"
    assert "ただいま不在です。" in message.get_content()


def test_the_per_sender_text_for_its_sender_and_the_default_for_others(
    mail: MailHarness, next_hop: Sink
) -> None:
    mail.send("boss@corp.example", ["taro@example.jp"], subject="status?")
    mail.send("carol@ok.example", ["taro@example.jp"], subject="lunch?")
    relayed(next_hop, 2)
    (boss,) = replies_to(next_hop, "boss@corp.example")
    (carol,) = replies_to(next_hop, "carol@ok.example")
    assert "Back on January 5th." in boss.message.get_content()
    assert "ただいま不在です。" in carol.message.get_content()


def test_spam_gets_none(mail: MailHarness, next_hop: Sink) -> None:
    """taro's own spam scan is off: the mail is delivered, but never answered."""
    gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
    mail.send("spammer@spam.example", ["taro@example.jp"], subject="offer", body=gtube + "\n")
    mail.send("carol@ok.example", ["taro@example.jp"], subject="after it")
    relayed(next_hop)
    mail.wait_for_files(TARO_INBOX, 2)
    settled(mail)
    assert [r.recipients for r in next_hop.received] == [["carol@ok.example"]]


def test_a_list_mail_and_a_bounce_get_none(mail: MailHarness, next_hop: Sink) -> None:
    send_raw(
        mail,
        "news@lists.example",
        ["taro@example.jp"],
        b"From: news@lists.example\r\nTo: taro@example.jp\r\nList-Id: <news.lists.example>\r\n"
        b"Subject: weekly news\r\n\r\nnews\r\n",
    )
    send_raw(
        mail,
        "",
        ["taro@example.jp"],
        b"From: MAILER-DAEMON@mx.ok.example\r\nTo: taro@example.jp\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\n\r\nbounce\r\n",
    )
    mail.send("carol@ok.example", ["taro@example.jp"], subject="after them")
    (reply,) = relayed(next_hop)
    mail.wait_for_files(TARO_INBOX, 3)
    settled(mail)
    assert [r.recipients for r in next_hop.received] == [["carol@ok.example"]]
    assert reply.recipients == ["carol@ok.example"]


def test_two_mailboxes_answering_each_other_reply_once_each(
    mail: MailHarness, next_hop: Sink
) -> None:
    import_settings(
        mail, "hanako@example.jp", {"auto_reply": {"enabled": True, "message": "旅行中"}}
    )
    mail.send("taro@example.jp", ["hanako@example.jp"], subject="from taro")
    mail.send("hanako@example.jp", ["taro@example.jp"], subject="from hanako")
    taro_mail = mail.wait_for_files(TARO_INBOX, 2)
    mail.wait_for_files(HANAKO_INBOX, 2)
    settled(mail)
    # An auto-reply coming in from outside (a remote responder's loop) gets none either,
    # from a sender not yet answered today.
    reply = next(p for p in taro_mail if b"Auto-Submitted: auto-replied" in p.read_bytes())
    send_raw(mail, "robot@ok.example", ["taro@example.jp"], reply.read_bytes())
    mail.wait_for_files(TARO_INBOX, 3)
    settled(mail)
    time.sleep(1)  # a loop would show within the worker's poll interval
    assert len(mail.files()[TARO_INBOX]) == 3
    assert len(mail.files()[HANAKO_INBOX]) == 2
    assert next_hop.received == []
