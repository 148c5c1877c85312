"""sekisho worker sends auto-replies (aiosmtpd standing in for Postfix's re-injection
listener): the reply as the sender receives it, one per sender per 24 hours, the record
written only after the 250, and two workers never replying to one sender together."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from sekisho.milter.auto_reply import Answered, AutoReplies
from sekisho.rules.encoded_words import decode_header_text
from sekisho.store import accounts
from sekisho.store.autoreply import Reservation, replied_recently, reserve
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


def worker(app: Flask, sink: Sink, envelope: str = "null") -> Worker:
    settings = dataclasses.replace(
        app.extensions["sekisho.settings"], reinject_smtp=sink.address, auto_reply_sender=envelope
    )
    return Worker(settings, app.extensions["sekisho.store"], app)


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
    # The other worker's lease ran out without a reply (it died): this one sends.
    worker(app, smtp_sink).send_due(now=utcnow() + timedelta(minutes=6))
    assert len(smtp_sink.received) == 1


def test_a_deleted_account_takes_its_queued_replies_with_it(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    queue(store, "k1")
    with store.transaction() as session:
        session.delete(accounts.require_account(session, "taro@example.jp"))
    worker(app, smtp_sink).send_due()
    assert smtp_sink.received == []
    assert rows(store) == []
