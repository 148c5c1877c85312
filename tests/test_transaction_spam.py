"""The spam scan inside one transaction, against a real rspamd: one scan per message, the
three outcomes of SPEC.md §9 per recipient, the split at RCPT, and an engine that is down."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sekisho.devstack.spam import RspamdInstance
from sekisho.milter.actions import (
    Accept,
    AddHeader,
    ChangeHeader,
    Continue,
    DeleteRecipient,
    EndOfMessage,
)
from sekisho.milter.transaction import SPAM_SCAN_DOWN, SPLIT_TRANSACTION, MailTransaction
from sekisho.rules.encoded_words import decode_header_text
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.policies import PolicyCache
from sekisho.store.quarantine import quarantine_page
from sekisho.store.settings_doc import import_settings
from tests.scanning import transaction_on

GTUBE_BODY = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"
PLAIN_BODY = b"Shall we have lunch tomorrow at noon?\r\n"
Factory = Callable[..., MailTransaction]


@pytest.fixture
def transaction(
    store: Store, example_domain: str, tmp_path: Path, rspamd: RspamdInstance
) -> Factory:
    settings = {
        "taro@example.jp": {"spam_scan": {"enabled": False}},
        "hanako@example.jp": {"spam_scan": {"enabled": True, "quarantine": True}},
        "jiro@example.jp": {"spam_scan": {"enabled": True, "quarantine": False}},
    }
    with store.transaction() as session:
        for address, document in settings.items():
            accounts.add_account(session, address, "secret123")
            import_settings(session, address, document)
    cache = PolicyCache(store, 0.0)

    def build(engine: str = rspamd.url, deliver_on_failure: bool = False) -> MailTransaction:
        return transaction_on(
            store,
            cache.get,
            tmp_path / "mail",
            engine,
            deliver_when_spam_scan_fails=deliver_on_failure,
        )

    return build


def deliver(transaction: MailTransaction, recipients: list[str], body: bytes) -> object:
    transaction.sender = "shop@ads.example"
    for recipient in recipients:
        assert transaction.add_recipient(recipient) == Continue()
    for name, value in (
        ("From", "shop@ads.example"),
        ("To", ", ".join(recipients)),
        ("Subject", "offer"),
        ("Message-ID", "<m1@ads.example>"),
    ):
        transaction.add_header(name, value)
    if transaction.end_of_headers() == Accept():
        return Accept()
    transaction.add_body(body)
    try:
        return transaction.end_of_message()
    finally:
        transaction.close()


def test_recipients_whose_content_would_differ_are_split_at_rcpt(transaction: Factory) -> None:
    first = transaction()
    assert first.add_recipient("<taro@example.jp>") == Continue()
    assert first.add_recipient("<hanako@example.jp>") == Continue()  # quarantine: same content
    assert first.add_recipient("<jiro@example.jp>") == SPLIT_TRANSACTION  # would be tagged
    second = transaction()
    assert second.add_recipient("<jiro@example.jp>") == Continue()
    assert second.add_recipient("<taro@example.jp>") == SPLIT_TRANSACTION


def test_spam_is_quarantined_for_one_and_untouched_for_the_scan_off_mailbox(
    transaction: Factory, store: Store
) -> None:
    end = deliver(transaction(), ["<taro@example.jp>", "<hanako@example.jp>"], GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Accept()
    assert DeleteRecipient("<hanako@example.jp>") in end.edits
    assert not any(isinstance(edit, ChangeHeader) for edit in end.edits)
    (score,) = [edit for edit in end.edits if isinstance(edit, AddHeader)]
    assert score.name == "X-Sekisho-Spam-Score"
    assert score.value.endswith("(rspamd)")
    with store.read() as session:
        (record,) = quarantine_page(
            session, accounts.require_account(session, "hanako@example.jp").id
        ).entries
    assert record.rule == "spam"
    assert record.matched == "rspamd"


def test_spam_for_a_tagging_mailbox_gets_the_subject_tag(transaction: Factory) -> None:
    end = deliver(transaction(), ["<jiro@example.jp>"], GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Accept()
    assert ChangeHeader("Subject", 1, "[spam] offer") in end.edits


def test_a_plain_mail_is_scored_and_left_alone(transaction: Factory) -> None:
    end = deliver(transaction(), ["<jiro@example.jp>"], PLAIN_BODY)
    assert isinstance(end, EndOfMessage)
    assert [type(edit) for edit in end.edits] == [AddHeader]


def test_nobody_scanning_means_no_scan_and_an_accept_at_end_of_headers(
    transaction: Factory,
) -> None:
    assert (
        deliver(transaction(engine="rspamd://127.0.0.1:9"), ["<taro@example.jp>"], GTUBE_BODY)
        == Accept()
    )


def test_the_engine_down_defers_the_message(transaction: Factory) -> None:
    end = deliver(transaction(engine="rspamd://127.0.0.1:9"), ["<hanako@example.jp>"], GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == SPAM_SCAN_DOWN
    assert end.edits == ()


def test_the_engine_down_may_deliver_unscanned_when_configured(transaction: Factory) -> None:
    failing = transaction(engine="rspamd://127.0.0.1:9", deliver_on_failure=True)
    end = deliver(failing, ["<hanako@example.jp>"], GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Accept()
    assert end.edits == ()


def test_a_raw_8bit_subject_is_tagged_as_an_encoded_word(transaction: Factory) -> None:
    raw = "未承諾広告".encode("cp932").decode("utf-8", "surrogateescape")
    jiro = transaction()
    jiro.sender = "shop@ads.example"
    assert jiro.add_recipient("<jiro@example.jp>") == Continue()
    jiro.add_header("From", "shop@ads.example")
    jiro.add_header("Subject", raw)
    assert jiro.end_of_headers() == Continue()
    jiro.add_body(GTUBE_BODY)
    end = jiro.end_of_message()
    jiro.close()
    (change,) = [edit for edit in end.edits if isinstance(edit, ChangeHeader)]
    change.value.encode("utf-8")  # libmilter takes only text; raw bytes made the mail stick
    assert decode_header_text(change.value) == "[spam] 未承諾広告"


def test_a_logged_in_sender_is_never_split_nor_tagged(transaction: Factory) -> None:
    submission = transaction()
    submission.submitter = "taro@example.jp"
    submission.sender = "taro@example.jp"
    assert submission.add_recipient("<jiro@example.jp>") == Continue()
    assert submission.add_recipient("<taro@example.jp>") == Continue()  # no 452 for them
    submission.add_header("Subject", "offer")
    assert submission.end_of_headers() == Continue()
    submission.add_body(GTUBE_BODY)
    end = submission.end_of_message()
    submission.close()
    assert not any(isinstance(edit, ChangeHeader) for edit in end.edits)
