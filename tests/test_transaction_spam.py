"""The spam scan inside one transaction, against a real rspamd: one scan per message, the
three outcomes of docs/features.md §9 per recipient, the tagged copy of their own for the tagging
mailboxes among others, and an engine or a re-injection listener that is down."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sekisho.devstack.spam import RspamdInstance
from sekisho.milter.actions import (
    Accept,
    AddHeader,
    AddRecipient,
    ChangeHeader,
    Continue,
    DeleteRecipient,
    EndOfMessage,
)
from sekisho.milter.apply import TAGGED_COPY_DOWN
from sekisho.milter.scan import SPAM_SCAN_DOWN
from sekisho.milter.tagged_copy import Reinjection, TaggedCopyLedger
from sekisho.milter.transaction import MailTransaction
from sekisho.rules.encoded_words import decode_header_text
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.policies import PolicyCache
from sekisho.store.quarantine import quarantine_page
from sekisho.store.settings_doc import import_settings
from tests.scanning import transaction_on
from tests.smtpsink import Sink

GTUBE_BODY = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"
PLAIN_BODY = b"Shall we have lunch tomorrow at noon?\r\n"
Factory = Callable[..., MailTransaction]
CLOSED = "127.0.0.1:9"  # no listener: a test that needs the tagged copy gives a sink


@pytest.fixture
def transaction(
    store: Store, example_domain: str, tmp_path: Path, rspamd: RspamdInstance
) -> Factory:
    settings = {
        "taro@example.jp": {"spam_scan": {"enabled": False}},
        "hanako@example.jp": {"spam_scan": {"enabled": True, "quarantine": True}},
        "jiro@example.jp": {"spam_scan": {"enabled": True, "quarantine": False}},
        "saburo@example.jp": {
            "spam_scan": {"enabled": True, "quarantine": False},
            "allow_from": ["ads.example"],
        },
    }
    with store.transaction() as session:
        for address, document in settings.items():
            accounts.add_account(session, address, "secret123")
            import_settings(session, address, document)
    cache = PolicyCache(store, 0.0)

    def build(
        engine: str = rspamd.url, deliver_on_failure: bool = False, reinject: str = CLOSED
    ) -> MailTransaction:
        return transaction_on(
            store,
            cache.get,
            tmp_path / "mail",
            engine,
            deliver_when_spam_scan_fails=deliver_on_failure,
            send_tagged_copy=Reinjection(reinject, timeout=5).send,
            tagged_copies=TaggedCopyLedger(store),
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


def test_spam_to_mixed_mailboxes_gives_the_tagging_one_a_tagged_copy_of_its_own(
    transaction: Factory, smtp_sink: Sink
) -> None:
    """scan off, quarantine, tag and tag-but-allowed in one transaction, none refused at
    RCPT: the tagging mailbox's copy is queued through re-injection, then removed from the
    untagged original the scan-off and the allowing mailbox get."""
    recipients = [
        "<taro@example.jp>",
        "<hanako@example.jp>",
        "<jiro@example.jp>",
        "<saburo@example.jp>",
    ]
    end = deliver(transaction(reinject=smtp_sink.address), recipients, GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Accept()
    removed = {edit.recipient for edit in end.edits if isinstance(edit, DeleteRecipient)}
    assert removed == {"<hanako@example.jp>", "<jiro@example.jp>"}
    assert not any(isinstance(edit, ChangeHeader) for edit in end.edits)  # original untagged
    (copy,) = smtp_sink.received
    assert copy.recipients == ["jiro@example.jp"]
    assert copy.envelope_from == "shop@ads.example"
    tagged = copy.message
    assert tagged["Subject"] == "[spam] offer"
    assert tagged["X-Sekisho-Spam-Score"].endswith("(rspamd)")
    assert tagged["Message-ID"] == "<m1@ads.example>"
    assert "GTUBE" in tagged.get_content()
    assert b"\n" not in copy.content.replace(b"\r\n", b"")  # SMTP's CRLF, no bare LF
    assert not copy.content.endswith(b"\r\n\r\n")  # no blank line added at the end


def test_a_retried_message_does_not_queue_its_tagged_copy_again(
    transaction: Factory, smtp_sink: Sink
) -> None:
    """The client never saw the final 250 and sends the same message again: the tagging
    mailbox is removed from the original again, and its copy is not queued twice."""
    recipients = ["<taro@example.jp>", "<jiro@example.jp>"]
    for _ in range(2):
        end = deliver(transaction(reinject=smtp_sink.address), recipients, GTUBE_BODY)
        assert isinstance(end, EndOfMessage)
        assert DeleteRecipient("<jiro@example.jp>") in end.edits
    (copy,) = smtp_sink.received
    assert copy.recipients == ["jiro@example.jp"]


def test_the_tagged_copy_not_queued_defers_the_whole_message(transaction: Factory) -> None:
    recipients = ["<taro@example.jp>", "<jiro@example.jp>"]
    end = deliver(transaction(), recipients, GTUBE_BODY)  # nothing listens for re-injection
    assert isinstance(end, EndOfMessage)
    assert end.verdict == TAGGED_COPY_DOWN
    assert end.edits == ()  # nobody removed: the retry finds the message as it was


def test_a_recipient_refused_by_re_injection_means_no_copy_for_anyone(
    transaction: Factory, store: Store, smtp_sink: Sink
) -> None:
    """All recipients or no DATA: a copy queued for some would come again with the
    deferred message's retry."""
    with store.transaction() as session:
        accounts.add_account(session, "shiro@example.jp", "secret123")
        tagging = {"spam_scan": {"enabled": True, "quarantine": False}}
        import_settings(session, "shiro@example.jp", tagging)
    smtp_sink.refused = {"shiro@example.jp"}
    recipients = ["<taro@example.jp>", "<jiro@example.jp>", "<shiro@example.jp>"]
    end = deliver(transaction(reinject=smtp_sink.address), recipients, GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == TAGGED_COPY_DOWN
    assert smtp_sink.received == []


def test_a_raw_8bit_sender_gets_the_tagging_mailbox_the_original_untagged(
    transaction: Factory, smtp_sink: Sink
) -> None:
    """An address that cannot be sent on must not defer the mail at every retry."""
    mixed = transaction(reinject=smtp_sink.address)
    mixed.sender = "店@ads.example".encode("cp932").decode("utf-8", "surrogateescape")
    for recipient in ("<taro@example.jp>", "<jiro@example.jp>"):
        assert mixed.add_recipient(recipient) == Continue()
    mixed.add_header("Subject", "offer")
    assert mixed.end_of_headers() == Continue()
    mixed.add_body(GTUBE_BODY)
    end = mixed.end_of_message()
    mixed.close()
    assert end.verdict == Accept()
    assert not any(isinstance(edit, DeleteRecipient) for edit in end.edits)
    assert smtp_sink.received == []


def test_a_plain_mail_to_mixed_mailboxes_needs_no_copy(transaction: Factory) -> None:
    end = deliver(transaction(), ["<taro@example.jp>", "<jiro@example.jp>"], PLAIN_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Accept()
    assert not any(isinstance(edit, DeleteRecipient) for edit in end.edits)


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


def test_a_logged_in_senders_spam_is_tagged_for_the_tagging_mailbox_alone(
    transaction: Factory, smtp_sink: Sink
) -> None:
    """A submission is never refused at RCPT (mail programs abort the whole send), and
    needs no such refusal now: the tagging mailbox gets its own copy, as from outside."""
    submission = transaction(reinject=smtp_sink.address)
    submission.submitter = "taro@example.jp"
    submission.sender = "taro@example.jp"
    submission.client_address = "192.0.2.7"
    assert submission.add_recipient("<jiro@example.jp>") == Continue()
    assert submission.add_recipient("<friend@outside.example>") == Continue()
    submission.add_header("Subject", "offer")
    assert submission.end_of_headers() == Continue()
    submission.add_body(GTUBE_BODY)
    end = submission.end_of_message()
    submission.close()
    assert not any(isinstance(edit, ChangeHeader) for edit in end.edits)
    assert DeleteRecipient("<jiro@example.jp>") in end.edits
    (copy,) = smtp_sink.received
    assert copy.message["Subject"] == "[spam] offer"
    # Postfix's own Received field for the client, without the login it leaves out too.
    assert "(unknown [192.0.2.7])" in copy.message["Received"]
    assert "with ESMTPA" in copy.message["Received"]
    assert b"Authenticated sender" not in copy.content


def settle(store: Store, address: str, document: dict[str, object]) -> None:
    with store.transaction() as session:
        import_settings(session, address, document)


def test_spam_quarantined_is_never_forwarded_and_a_tagged_forward_gets_the_original(
    transaction: Factory, store: Store, smtp_sink: Sink
) -> None:
    settle(store, "hanako@example.jp", {"forwarding": [{"to": "h@mobile.example", "keep": True}]})
    settle(store, "jiro@example.jp", {"forwarding": [{"to": "j@mobile.example", "keep": True}]})
    recipients = ["<taro@example.jp>", "<hanako@example.jp>", "<jiro@example.jp>"]
    end = deliver(transaction(reinject=smtp_sink.address), recipients, GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    added = {edit.recipient for edit in end.edits if isinstance(edit, AddRecipient)}
    assert added == {"j@mobile.example"}  # hanako's spam stays in her spam folder
    (copy,) = smtp_sink.received
    assert copy.recipients == ["jiro@example.jp"]  # the tagged copy for the mailbox alone


def test_a_mailbox_forwarding_without_keeping_gets_no_tagged_copy(
    transaction: Factory, store: Store, smtp_sink: Sink
) -> None:
    settle(store, "jiro@example.jp", {"forwarding": [{"to": "j@mobile.example", "keep": False}]})
    end = deliver(
        transaction(reinject=smtp_sink.address),
        ["<taro@example.jp>", "<jiro@example.jp>"],
        GTUBE_BODY,
    )
    assert isinstance(end, EndOfMessage)
    assert AddRecipient("j@mobile.example") in end.edits
    assert DeleteRecipient("<jiro@example.jp>") in end.edits
    assert smtp_sink.received == []


def test_a_reject_rule_decides_before_the_spam_scan_and_names_itself(
    transaction: Factory, store: Store
) -> None:
    settle(store, "hanako@example.jp", {"reject_from": ["ads.example"]})
    end = deliver(transaction(), ["<hanako@example.jp>"], GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    with store.read() as session:
        (record,) = quarantine_page(
            session, accounts.require_account(session, "hanako@example.jp").id
        ).entries
    assert record.rule == "reject_from"
    assert record.entry == "ads.example"
