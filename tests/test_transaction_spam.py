"""The spam scan inside one transaction, against a real rspamd: one scan per message, the
three outcomes of docs/features.md §9 per recipient, the tagged copy of their own for the tagging
mailboxes among others (exactly once, taken back when its row fails), and an engine that is
down."""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

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
from sekisho.milter.scan import SPAM_SCAN_DOWN
from sekisho.milter.transaction import MailTransaction
from sekisho.rules.encoded_words import decode_header_text
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.models import OutboxMessage, QuarantinedMessage
from sekisho.store.outbox import TAGGED_COPY
from sekisho.store.policies import PolicyCache
from sekisho.store.quarantine import quarantine_page
from sekisho.store.settings_doc import import_settings
from tests.scanning import transaction_on

GTUBE_BODY = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"
PLAIN_BODY = b"Shall we have lunch tomorrow at noon?\r\n"
Factory = Callable[..., MailTransaction]


@pytest.fixture
def mail_root(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def transaction(
    store: Store, example_domain: str, mail_root: Path, rspamd: RspamdInstance
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

    def build(engine: str = rspamd.url, deliver_on_failure: bool = False) -> MailTransaction:
        return transaction_on(
            store, cache.get, mail_root, engine, deliver_when_spam_scan_fails=deliver_on_failure
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


def inbox(mail_root: Path, user: str) -> list[Path]:
    """The files in ``user``'s inbox, new/ and cur/."""
    mailbox = mail_root / "example.jp" / user
    return sorted(path for sub in ("new", "cur") for path in (mailbox / sub).glob("*"))


def ledger_rows(store: Store) -> int:
    with store.read() as session:
        return session.query(OutboxMessage).filter_by(kind=TAGGED_COPY).count()


def test_spam_to_mixed_mailboxes_gives_the_tagging_one_a_tagged_copy_of_its_own(
    transaction: Factory, mail_root: Path, store: Store
) -> None:
    """scan off, quarantine, tag and tag-but-allowed in one transaction, none refused at
    RCPT: the tagging mailbox's copy is written into its inbox, then it is removed from
    the untagged original the scan-off and the allowing mailbox get."""
    recipients = [
        "<taro@example.jp>",
        "<hanako@example.jp>",
        "<JIRO@example.jp>",
        "<saburo@example.jp>",
    ]
    end = deliver(transaction(), recipients, GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Accept()
    removed = {edit.recipient for edit in end.edits if isinstance(edit, DeleteRecipient)}
    assert removed == {"<hanako@example.jp>", "<JIRO@example.jp>"}
    assert not any(isinstance(edit, ChangeHeader) for edit in end.edits)  # original untagged
    (copy,) = inbox(mail_root, "jiro")
    assert copy.parent.name == "new"
    content = copy.read_bytes()
    tagged = message_from_bytes(content, policy=default)
    # What a local delivery by Postfix puts on top, as the client wrote the recipient.
    assert tagged["Return-Path"] == "<shop@ads.example>"
    assert tagged["X-Original-To"] == "JIRO@example.jp"
    assert tagged["Delivered-To"] == "jiro@example.jp"
    assert tagged["Subject"] == "[spam] offer"
    assert tagged["X-Sekisho-Spam-Score"].endswith("(rspamd)")
    assert tagged["Message-ID"] == "<m1@ads.example>"
    assert "GTUBE" in tagged.get_content()
    assert b"\r" not in content  # a Maildir holds LF line ends
    assert content.endswith(b"GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n")
    assert inbox(mail_root, "taro") == []  # the untagged original is Postfix's to deliver
    assert ledger_rows(store) == 1


def test_a_retried_message_does_not_write_its_tagged_copy_again(
    transaction: Factory, mail_root: Path, store: Store
) -> None:
    """The client never saw the final 250 and sends the same message again: the tagging
    mailbox is removed from the original again, and its copy is not written twice."""
    recipients = ["<taro@example.jp>", "<jiro@example.jp>"]
    for _ in range(2):
        end = deliver(transaction(), recipients, GTUBE_BODY)
        assert isinstance(end, EndOfMessage)
        assert DeleteRecipient("<jiro@example.jp>") in end.edits
    assert len(inbox(mail_root, "jiro")) == 1
    assert ledger_rows(store) == 1


def test_a_copy_left_by_an_attempt_that_died_before_its_row_is_not_doubled(
    transaction: Factory, mail_root: Path, store: Store
) -> None:
    """The milter died after the copy's file and before its row: the retry replaces the
    file still in new/, and keeps one a mail program has already moved to cur/."""
    recipients = ["<taro@example.jp>", "<jiro@example.jp>"]
    deliver(transaction(), recipients, GTUBE_BODY)

    def forget_the_row() -> None:
        with store.transaction() as session:
            session.query(OutboxMessage).filter_by(kind=TAGGED_COPY).delete()

    forget_the_row()
    end = deliver(transaction(), recipients, GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    assert DeleteRecipient("<jiro@example.jp>") in end.edits
    (copy,) = inbox(mail_root, "jiro")
    seen = copy.parent.parent / "cur" / f"{copy.name}:2,S"
    copy.rename(seen)
    forget_the_row()
    deliver(transaction(), recipients, GTUBE_BODY)
    assert inbox(mail_root, "jiro") == [seen]
    assert ledger_rows(store) == 1


def refuse_tagged_copy_rows(store: Store) -> None:
    """A store that fails the message's transaction at the tagged copy's row."""
    with store.transaction() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON outbox WHEN NEW.kind = 'tagged_copy' "
                    "BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
            return
        session.execute(
            text(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$"
            )
        )
        session.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON outbox FOR EACH ROW "
                "WHEN (NEW.kind = 'tagged_copy') EXECUTE FUNCTION refuse()"
            )
        )


def test_a_tagged_copy_whose_row_fails_is_taken_back_and_the_message_deferred(
    transaction: Factory, mail_root: Path, store: Store
) -> None:
    """The store fails the message's one transaction: the copy written is removed again
    and nothing is recorded (the quarantine copy of the same message neither), so the
    retry, which the adapter's 451 asks for, finds the message as it was."""
    refuse_tagged_copy_rows(store)
    recipients = ["<taro@example.jp>", "<hanako@example.jp>", "<jiro@example.jp>"]
    with pytest.raises(SQLAlchemyError, match="refused"):
        deliver(transaction(), recipients, GTUBE_BODY)
    assert inbox(mail_root, "jiro") == []
    assert list((mail_root / "example.jp/hanako/.Junk/new").iterdir()) == []
    with store.read() as session:
        assert session.query(QuarantinedMessage).count() == 0


def test_one_inbox_failing_defers_the_message_and_takes_the_others_copies_back(
    transaction: Factory, mail_root: Path, store: Store
) -> None:
    """jiro's copy is written, shiro's inbox cannot take one (its new/ is not a folder):
    the message is deferred, and neither jiro's inbox nor hanako's spam folder keeps a
    copy of a message the sender will retry."""
    with store.transaction() as session:
        accounts.add_account(session, "shiro@example.jp", "secret123")
        import_settings(
            session, "shiro@example.jp", {"spam_scan": {"enabled": True, "quarantine": False}}
        )
    broken = mail_root / "example.jp" / "shiro"
    for sub in ("tmp", "cur"):
        (broken / sub).mkdir(parents=True)
    (broken / "new").write_bytes(b"")
    recipients = [
        "<taro@example.jp>",
        "<hanako@example.jp>",
        "<jiro@example.jp>",
        "<shiro@example.jp>",
    ]
    with pytest.raises(NotADirectoryError):
        deliver(transaction(), recipients, GTUBE_BODY)
    assert inbox(mail_root, "jiro") == []
    assert list((mail_root / "example.jp/hanako/.Junk/new").iterdir()) == []
    assert ledger_rows(store) == 0


def test_a_raw_8bit_sender_still_gets_the_tagging_mailbox_its_tagged_copy(
    transaction: Factory, mail_root: Path
) -> None:
    """An address no SMTP server would take is no obstacle to a copy written into the
    Maildir: its bytes are kept as they came."""
    raw_sender = "店@ads.example".encode("cp932")
    mixed = transaction()
    mixed.sender = raw_sender.decode("utf-8", "surrogateescape")
    for recipient in ("<taro@example.jp>", "<jiro@example.jp>"):
        assert mixed.add_recipient(recipient) == Continue()
    mixed.add_header("Subject", "offer")
    assert mixed.end_of_headers() == Continue()
    mixed.add_body(GTUBE_BODY)
    end = mixed.end_of_message()
    mixed.close()
    assert end.verdict == Accept()
    assert DeleteRecipient("<jiro@example.jp>") in end.edits
    (copy,) = inbox(mail_root, "jiro")
    assert copy.read_bytes().startswith(b"Return-Path: <" + raw_sender + b">\n")


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
    transaction: Factory, mail_root: Path
) -> None:
    """A submission is never refused at RCPT (mail programs abort the whole send), and
    needs no such refusal now: the tagging mailbox gets its own copy, as from outside."""
    submission = transaction()
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
    (copy,) = inbox(mail_root, "jiro")
    content = copy.read_bytes()
    tagged = message_from_bytes(content, policy=default)
    assert tagged["Subject"] == "[spam] offer"
    # Postfix's own Received field for the client, without the login it leaves out too.
    assert "(unknown [192.0.2.7])" in tagged["Received"]
    assert "with ESMTPA" in tagged["Received"]
    assert b"Authenticated sender" not in content


def settle(store: Store, address: str, document: dict[str, object]) -> None:
    with store.transaction() as session:
        import_settings(session, address, document)


def test_spam_quarantined_is_never_forwarded_and_a_tagged_forward_gets_the_original(
    transaction: Factory, store: Store, mail_root: Path
) -> None:
    settle(store, "hanako@example.jp", {"forwarding": [{"to": "h@mobile.example", "keep": True}]})
    settle(store, "jiro@example.jp", {"forwarding": [{"to": "j@mobile.example", "keep": True}]})
    recipients = ["<taro@example.jp>", "<hanako@example.jp>", "<jiro@example.jp>"]
    end = deliver(transaction(), recipients, GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    added = {edit.recipient for edit in end.edits if isinstance(edit, AddRecipient)}
    assert added == {"j@mobile.example"}  # hanako's spam stays in her spam folder
    assert len(inbox(mail_root, "jiro")) == 1  # the tagged copy for the mailbox alone


def test_a_mailbox_forwarding_without_keeping_gets_no_tagged_copy(
    transaction: Factory, store: Store, mail_root: Path
) -> None:
    settle(store, "jiro@example.jp", {"forwarding": [{"to": "j@mobile.example", "keep": False}]})
    end = deliver(transaction(), ["<taro@example.jp>", "<jiro@example.jp>"], GTUBE_BODY)
    assert isinstance(end, EndOfMessage)
    assert AddRecipient("j@mobile.example") in end.edits
    assert DeleteRecipient("<jiro@example.jp>") in end.edits
    assert inbox(mail_root, "jiro") == []


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
