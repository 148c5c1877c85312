"""sekisho worker sends auto-replies (aiosmtpd standing in for Postfix's re-injection
listener): the reply as the sender receives it, one per sender per 24 hours, the record
written only after the 250, and two workers never replying to one sender together."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy import text as sql

from sekisho.milter.auto_reply import Answered, AutoReplies
from sekisho.rules.auto_reply import AutoReply
from sekisho.rules.encoded_words import decode_header_text
from sekisho.store import accounts, outbox
from sekisho.store.auto_reply import Reservation, replied_recently, reserve, set_auto_reply, settle
from sekisho.store.db import Store
from sekisho.store.models import OutboxMessage, utcnow
from sekisho.store.policies import load_policy
from sekisho.worker import Worker
from tests.smtpsink import Sink

ANSWERED = Answered(
    sender="Alice@ok.example",
    subject="会議案内",
    message_id="<m1@ok.example>",
    references="<m0@ok.example>",
)


@pytest.fixture(autouse=True)
def taro_away(app: Flask, store: Store) -> None:
    with store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        set_auto_reply(session, taro, AutoReply(True, "不在です。"))


def worker(app: Flask, sink: Sink, envelope: str = "null") -> Worker:
    settings = dataclasses.replace(
        app.extensions["sekisho.settings"], reinject_smtp=sink.address, auto_reply_sender=envelope
    )
    return Worker(settings, app.extensions["sekisho.store"])


def queue(
    store: Store,
    message_key: str,
    answered: Answered = ANSWERED,
    text: str = "不在です。\n1月5日に戻ります。",
) -> int:
    policy = load_policy(store, "taro@example.jp")
    assert policy is not None
    AutoReplies(store).put([(policy, text)], answered, message_key, utcnow())
    return policy.account_id


def rows(store: Store) -> list[OutboxMessage]:
    with store.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_the_reply_as_the_sender_receives_it(app: Flask, store: Store, smtp_sink: Sink) -> None:
    queue(store, "k1")
    worker(app, smtp_sink).send_due()
    (received,) = smtp_sink.received
    assert received.envelope_from == "<>"  # RFC 3834 §3.3, as aiosmtpd gives the null sender
    assert received.recipients == ["Alice@ok.example"]
    reply = received.message
    assert reply["From"] == "taro@example.jp"
    assert reply["To"] == "Alice@ok.example"
    assert decode_header_text(str(reply["Subject"])) == "Re: 会議案内"
    assert reply["In-Reply-To"] == "<m1@ok.example>"
    assert reply["References"] == "<m0@ok.example> <m1@ok.example>"
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply.get_content_type() == "text/plain"
    assert reply.get_content_charset() == "utf-8"
    assert reply.get_content().replace("\r\n", "\n") == "不在です。\n1月5日に戻ります。\n"


def test_the_mailbox_as_envelope_sender_when_configured(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    queue(store, "k1")
    worker(app, smtp_sink, envelope="mailbox").send_due()
    (received,) = smtp_sink.received
    assert received.envelope_from == "taro@example.jp"


def test_three_mails_from_one_sender_get_one_reply(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    account_id = queue(store, "k1")
    queue(store, "k2")
    queue(store, "k3", dataclasses.replace(ANSWERED, sender="alice@OK.example"))
    worker(app, smtp_sink).send_due()
    assert len(smtp_sink.received) == 1
    assert all(row.sent_at is not None for row in rows(store))
    with store.read() as session:
        assert replied_recently(session, account_id, "alice@ok.example", utcnow())
    queue(store, "k4")  # the milter leaves out a sender replied to today
    assert len(rows(store)) == 3


def test_a_refused_reply_is_not_recorded_and_goes_later(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    account_id = queue(store, "k1")
    smtp_sink.answer = "451 4.3.0 Try again later"
    sender = worker(app, smtp_sink)
    sender.send_due()
    with store.read() as session:
        assert not replied_recently(session, account_id, "alice@ok.example", utcnow())
    smtp_sink.answer = "250 OK"
    sender.send_due(now=utcnow() + timedelta(minutes=2))
    assert len(smtp_sink.received) == 1
    with store.read() as session:
        assert replied_recently(session, account_id, "alice@ok.example", utcnow())


def test_another_worker_replying_to_the_sender_makes_this_one_wait(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    account_id = queue(store, "k1")
    assert reserve(store, account_id, "alice@ok.example", utcnow()) is Reservation.TAKEN
    worker(app, smtp_sink).send_due()
    assert smtp_sink.received == []
    (row,) = rows(store)
    assert (row.sent_at, row.failed_at, row.attempts) == (None, None, 1)
    assert row.last_error == "another worker is replying to this sender"
    settle(store, account_id, "alice@ok.example", None)  # the other one's send failed
    worker(app, smtp_sink).send_due(now=utcnow() + timedelta(minutes=2))
    assert len(smtp_sink.received) == 1


def test_a_reply_the_other_worker_sent_meanwhile_is_not_sent_again(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    account_id = queue(store, "k1")
    assert reserve(store, account_id, "alice@ok.example", utcnow()) is Reservation.TAKEN
    worker(app, smtp_sink).send_due()
    settle(store, account_id, "alice@ok.example", utcnow())  # the other one's was taken
    worker(app, smtp_sink).send_due(now=utcnow() + timedelta(minutes=2))
    assert smtp_sink.received == []
    assert rows(store)[0].sent_at is not None


def test_no_reply_once_the_owner_turned_it_off(app: Flask, store: Store, smtp_sink: Sink) -> None:
    account_id = queue(store, "k1")
    with store.transaction() as session:
        set_auto_reply(session, account_id, AutoReply(False, "away"))
    worker(app, smtp_sink).send_due()
    assert smtp_sink.received == []
    assert rows(store)[0].sent_at is not None


def test_the_store_failing_mid_round_keeps_the_reply_for_later(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    queue(store, "k1")
    with store.transaction() as session:  # the record table gone: every reservation fails
        session.execute(sql("DROP TABLE auto_reply_senders"))
    worker(app, smtp_sink).send_due()
    (row,) = rows(store)
    assert (row.sent_at, row.failed_at, row.attempts) == (None, None, 1)
    assert row.last_error is not None
    assert row.last_error.startswith("store unavailable")


def test_an_undeliverable_reply_is_given_up_after_a_day(store: Store, app: Flask) -> None:
    queue(store, "k1")
    claimed = outbox.claim(store, 10)
    a_day_later = utcnow() + timedelta(hours=24, minutes=1)
    outbox.mark_failed_attempt(store, claimed, [rows(store)[0].id], "451 later", False, a_day_later)
    assert rows(store)[0].failed_at is not None


def test_a_deleted_account_takes_its_queued_replies_with_it(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    queue(store, "k1")
    with store.transaction() as session:
        session.delete(accounts.require_account(session, "taro@example.jp"))
    worker(app, smtp_sink).send_due()
    assert smtp_sink.received == []
    assert rows(store) == []
