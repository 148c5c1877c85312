"""自動返信設定 inside one transaction (real store, real rspamd and clamd): which mail
queues a reply, with which text, and which never does."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from sekisho.devstack.clamd import EICAR, ClamdInstance
from sekisho.devstack.spam import RspamdInstance
from sekisho.milter.actions import Accept, Continue, DeleteRecipient, EndOfMessage
from sekisho.milter.auto_reply import AutoReplies
from sekisho.milter.transaction import MailTransaction
from sekisho.store import accounts
from sekisho.store.auto_reply import reserve, settle
from sekisho.store.db import Store
from sekisho.store.models import OutboxMessage
from sekisho.store.outbox import AUTO_REPLY
from sekisho.store.policies import PolicyCache
from sekisho.store.settings_doc import import_settings
from tests.scanning import transaction_on

GTUBE_BODY = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"
# 2026-12-27 23:30 in Japan: the day before taro's away period starts.
BEFORE_START = datetime(2026, 12, 27, 14, 30, tzinfo=UTC)
FIRST_DAY = datetime(2026, 12, 27, 15, 0, tzinfo=UTC)  # 2026-12-28 00:00 in Japan
Factory = Callable[..., MailTransaction]


@pytest.fixture
def transaction(
    store: Store,
    example_domain: str,
    tmp_path: Path,
    rspamd: RspamdInstance,
    clamd: ClamdInstance,
) -> Factory:
    settings = {
        "taro@example.jp": {
            "auto_reply": {
                "enabled": True,
                "message": "不在です。",
                "per_sender": [{"sender": "corp.example", "message": "Away until the 5th."}],
                "starts_on": "2026-12-28",
            },
            "reject_from": ["bad.example"],
        },
        "hanako@example.jp": {
            "auto_reply": {"enabled": True, "message": "hanako is away"},
            "spam_scan": {"enabled": True, "quarantine": False},
        },
        "jiro@example.jp": {
            "auto_reply": {"enabled": True, "message": "jiro is away"},
            "virus_scan": True,
        },
    }
    with store.transaction() as session:
        for address, document in settings.items():
            accounts.add_account(session, address, "secret123")
            import_settings(session, address, document)
    cache = PolicyCache(store, 0.0)

    def build(now: datetime = FIRST_DAY, engine: str = rspamd.url) -> MailTransaction:
        return transaction_on(
            store,
            cache.get,
            tmp_path / "mail",
            engine,
            clamd.url,
            auto_replies=AutoReplies(store),
            clock=lambda: now,
        )

    return build


def deliver(
    transaction: MailTransaction,
    recipients: list[str],
    sender: str = "alice@ok.example",
    extra: tuple[tuple[str, str], ...] = (),
    body: bytes = b"Hello.\r\n",
    from_header: str = "",
) -> object:
    transaction.sender = f"<{sender}>"
    for recipient in recipients:
        assert transaction.add_recipient(f"<{recipient}>") == Continue()
    for name, value in (
        ("From", from_header or sender or "MAILER-DAEMON@mx.ok.example"),
        ("To", ", ".join(recipients)),
        ("Subject", "=?ISO-2022-JP?B?GyRCMnE1RDBGRmIbKEI=?="),
        ("Message-ID", "<m1@ok.example>"),
        ("References", "<m0@ok.example>"),
        *extra,
    ):
        transaction.add_header(name, value)
    transaction.queue_id = "Q1"
    try:
        eoh = transaction.end_of_headers()
        if eoh == Accept():
            return eoh
        transaction.add_body(body)
        return transaction.end_of_message()
    finally:
        transaction.close()


def replies(store: Store) -> list[tuple[str, dict[str, str]]]:
    with store.read() as session:
        rows = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == AUTO_REPLY).order_by(OutboxMessage.id)
        )
        return [(row.envelope_to, json.loads(row.details or "{}")) for row in rows]


def test_a_reply_is_queued_with_what_the_worker_needs(transaction: Factory, store: Store) -> None:
    end = deliver(transaction(), ["taro@example.jp"])
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Accept()
    assert replies(store) == [
        (
            "alice@ok.example",
            {
                "mailbox": "taro@example.jp",
                "text": "不在です。",
                "subject": "会議案内",
                "message_id": "<m1@ok.example>",
                "references": "<m0@ok.example>",
            },
        )
    ]


def test_the_per_sender_text_goes_to_its_sender(transaction: Factory, store: Store) -> None:
    deliver(transaction(), ["taro@example.jp"], sender="boss@corp.example")
    deliver(transaction(), ["taro@example.jp"], sender="alice@ok.example")
    assert [(to, details["text"]) for to, details in replies(store)] == [
        ("boss@corp.example", "Away until the 5th."),
        ("alice@ok.example", "不在です。"),
    ]


def test_a_forged_from_gets_the_default_text_not_the_per_sender_one(
    transaction: Factory, store: Store
) -> None:
    """The reply goes to the envelope sender: only its own pattern chooses the text."""
    deliver(
        transaction(),
        ["taro@example.jp"],
        sender="x@evil.example",
        from_header="Boss <boss@corp.example>",
    )
    assert [(to, details["text"]) for to, details in replies(store)] == [
        ("x@evil.example", "不在です。")
    ]


def test_spam_to_a_mailbox_without_the_spam_scan_is_delivered_unanswered(
    transaction: Factory, store: Store
) -> None:
    """taro's spam scan is off; his auto-reply has his mail scanned all the same."""
    end = deliver(transaction(), ["taro@example.jp"], body=GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Accept()
    assert not any(isinstance(edit, DeleteRecipient) for edit in end.edits)
    assert replies(store) == []


def test_a_spam_engine_down_costs_the_reply_not_the_mail(
    transaction: Factory, store: Store
) -> None:
    end = deliver(transaction(engine="rspamd://127.0.0.1:9"), ["taro@example.jp"])
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Accept()
    assert replies(store) == []


def test_the_same_message_twice_queues_one_reply(transaction: Factory, store: Store) -> None:
    deliver(transaction(), ["taro@example.jp"])
    deliver(transaction(), ["taro@example.jp"])
    assert len(replies(store)) == 1


def test_a_sender_replied_to_today_gets_no_new_row(transaction: Factory, store: Store) -> None:
    with store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
    reserve(store, taro, "alice@ok.example", FIRST_DAY)
    settle(store, taro, "alice@ok.example", FIRST_DAY)
    end = deliver(transaction(), ["taro@example.jp"])
    assert isinstance(end, EndOfMessage)
    assert replies(store) == []


def test_before_the_start_date_nothing_is_queued(transaction: Factory, store: Store) -> None:
    assert deliver(transaction(BEFORE_START), ["taro@example.jp"]) == Accept()
    assert replies(store) == []


@pytest.mark.parametrize(
    ("sender", "extra"),
    [
        ("", ()),
        ("alice@ok.example", (("List-Id", "<news.ok.example>"),)),
        ("alice@ok.example", (("Auto-Submitted", "auto-replied"),)),
        ("alice@ok.example", (("Precedence", "bulk"),)),
        ("owner-news@ok.example", ()),
        ("taro@example.jp", ()),
    ],
    ids=["bounce", "list", "auto-reply", "bulk", "list-owner", "own-address"],
)
def test_automatic_and_list_mail_is_accepted_without_a_reply(
    transaction: Factory, store: Store, sender: str, extra: tuple[tuple[str, str], ...]
) -> None:
    """Decided at end of headers: the body is never asked for."""
    assert deliver(transaction(), ["taro@example.jp"], sender=sender, extra=extra) == Accept()
    assert replies(store) == []


def test_quarantined_mail_gets_no_reply(transaction: Factory, store: Store) -> None:
    end = deliver(transaction(), ["taro@example.jp"], sender="x@bad.example")
    assert isinstance(end, EndOfMessage)
    assert replies(store) == []


def test_spam_tagged_mail_gets_no_reply(transaction: Factory, store: Store) -> None:
    deliver(transaction(), ["hanako@example.jp"], body=GTUBE_BODY)
    deliver(transaction(), ["hanako@example.jp"], sender="bob@ok.example")
    assert [to for to, _ in replies(store)] == ["bob@ok.example"]


def test_virus_mail_gets_no_reply_from_anyone(transaction: Factory, store: Store) -> None:
    """jiro's scan finds it; taro (scan off) does not answer it either."""
    deliver(transaction(), ["jiro@example.jp", "taro@example.jp"], body=EICAR + b"\r\n")
    assert replies(store) == []
