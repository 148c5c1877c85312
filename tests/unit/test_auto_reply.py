"""自動返信設定's pure rules: the checks of a setting, which text a sender gets, and the
mail that must never get a reply (RFC 3834, RFC 5230, Pigeonhole's vacation)."""

from __future__ import annotations

import base64
from datetime import date

import pytest

from sekisho.rules.auto_reply import (
    MAX_MESSAGE_CHARS,
    MAX_SENDER_TEXTS,
    AutoReply,
    SenderText,
    check_auto_reply,
    cleaned,
    message_ids,
    refusal,
    reply_subject,
)
from sekisho.rules.encoded_words import decode_header_text

MAILBOX = "taro@example.jp"
ADDRESSED = (("From", "Alice <alice@ok.example>"), ("To", "Taro <Taro@Example.JP>"))


def messages(setting: AutoReply) -> list[str]:
    return [problem.render() for problem in check_auto_reply(setting)]


def test_a_plain_mail_to_the_mailbox_may_get_a_reply() -> None:
    assert refusal(MAILBOX, "<alice@ok.example>", ADDRESSED) is None
    assert refusal(MAILBOX, "alice@ok.example", [("Cc", "taro@example.jp"), *ADDRESSED[:1]]) is None


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("", "null_sender"),
        ("<>", "null_sender"),
        ("MAILER-DAEMON@mx.ok.example", "system_sender"),
        ("owner-list@lists.example", "system_sender"),
        ("list-owner@lists.example", "system_sender"),
        ("news-request@lists.example", "system_sender"),
        ("LISTSERV@lists.example", "system_sender"),
        ("majordomo@lists.example", "system_sender"),
        ("Taro@Example.jp", "own_address"),
    ],
)
def test_system_senders_and_the_mailbox_itself_get_none(sender: str, reason: str) -> None:
    assert refusal(MAILBOX, sender, ADDRESSED) == reason


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        (("List-Id", "<news.lists.example>"), "list"),
        (("List-Unsubscribe", "<mailto:u@lists.example>"), "list"),
        (("Auto-Submitted", "auto-replied"), "auto_submitted"),
        (("Auto-Submitted", "auto-generated; owner-email=x@y.example"), "auto_submitted"),
        (("Precedence", "bulk"), "bulk"),
        (("Precedence", " List "), "bulk"),
        (("Precedence", "junk"), "bulk"),
        (("X-Auto-Response-Suppress", "DR, OOF"), "suppressed"),
        (("X-Auto-Response-Suppress", "All"), "suppressed"),
        (("Content-Type", "multipart/report; report-type=delivery-status"), "report"),
    ],
)
def test_automatic_and_list_mail_gets_none(field: tuple[str, str], reason: str) -> None:
    assert refusal(MAILBOX, "alice@ok.example", [*ADDRESSED, field]) == reason


def test_auto_submitted_no_and_other_precedence_still_get_a_reply() -> None:
    fields = [*ADDRESSED, ("Auto-Submitted", "no"), ("Precedence", "first-class")]
    assert refusal(MAILBOX, "alice@ok.example", fields) is None


def test_mail_not_addressed_to_the_mailbox_gets_none() -> None:
    """Bcc'd, or forwarded from another mailbox: the sender did not write to this one."""
    fields = [("From", "alice@ok.example"), ("To", "hanako@example.jp")]
    assert refusal(MAILBOX, "alice@ok.example", fields) == "not_addressed"
    assert refusal(MAILBOX, "alice@ok.example", fields[:1]) == "not_addressed"


def test_the_per_sender_text_is_chosen_by_suffix_and_the_default_otherwise() -> None:
    setting = AutoReply(
        True,
        "default",
        (SenderText("boss@corp.example", "to the boss"), SenderText("family.example", "家族へ")),
    )
    assert setting.text_for(["Boss@Corp.Example"]) == "to the boss"
    assert setting.text_for(["mother@home.family.example"]) == "家族へ"
    assert setting.text_for(["someone@ok.example"]) == "default"
    assert setting.text_for(["someone@ok.example", "boss@corp.example"]) == "to the boss"


def test_the_date_range_includes_both_ends() -> None:
    setting = AutoReply(True, "away", (), date(2026, 12, 28), date(2027, 1, 4))
    assert not setting.active_on(date(2026, 12, 27))
    assert setting.active_on(date(2026, 12, 28))
    assert setting.active_on(date(2027, 1, 4))
    assert not setting.active_on(date(2027, 1, 5))
    assert not AutoReply(False, "away").active_on(date(2027, 1, 1))


def test_each_broken_rule_has_its_own_message() -> None:
    assert messages(AutoReply(True, "  ")) == ["Enter the reply message."]
    assert messages(AutoReply(False, "")) == []
    too_long = "あ" * (MAX_MESSAGE_CHARS + 1)
    assert messages(AutoReply(True, too_long)) == [
        f"The message is {MAX_MESSAGE_CHARS + 1} characters long; at most "
        f"{MAX_MESSAGE_CHARS} are allowed."
    ]
    assert messages(AutoReply(True, "bell\x07")) == ["The message contains a control character."]
    assert messages(AutoReply(True, "two\r\nlines\ttab")) == []
    start, end = date(2027, 1, 5), date(2027, 1, 4)
    assert messages(AutoReply(True, "away", (), start, end)) == [
        "The end date is before the start date."
    ]


def test_per_sender_entries_are_checked_like_the_from_list() -> None:
    entries = (
        SenderText("not an address", "x"),
        SenderText("boss@corp.example", ""),
        SenderText("Boss@corp.example", "again"),
        SenderText(" ", "for nobody"),
    )
    assert messages(AutoReply(True, "default", entries)) == [
        "Line 1: “not an address” contains a space; enter one address per line.",
        "Line 2: enter the message for “boss@corp.example”.",
        "Line 3: “Boss@corp.example” is listed twice.",
        "Line 4: enter the sender (an address or a domain).",
    ]
    many = tuple(SenderText(f"s{n}@ok.example", "x") for n in range(MAX_SENDER_TEXTS + 1))
    assert messages(AutoReply(True, "default", many)) == [
        f"At most {MAX_SENDER_TEXTS} per-sender messages can be set."
    ]


def test_cleaning_keeps_line_breaks_as_lf_and_patterns_in_their_stored_form() -> None:
    setting = cleaned(
        AutoReply(True, "一行目  \r\n二行目\r\n\r\n", (SenderText("ＢＯＳＳ@Corp.Example", "x\r"),))
    )
    assert setting.message == "一行目\n二行目"
    assert setting.per_sender == (SenderText("boss@corp.example", "x"),)


def test_the_reply_subject_is_re_and_the_decoded_original() -> None:
    original = (
        "=?ISO-2022-JP?B?" + base64.b64encode("会議の件".encode("iso2022_jp")).decode() + "?="
    )
    assert reply_subject(decode_header_text(original)) == "Re: 会議の件"
    assert reply_subject("RE: hello") == "RE: hello"
    assert reply_subject("a\n folded\tsubject") == "Re: a folded subject"
    assert reply_subject("") == "Re: "


def test_only_well_formed_message_ids_are_repeated() -> None:
    assert message_ids("<a@x.example> junk <b@y.example>\r\n\tX-Evil: 1 <c d@z>") == [
        "<a@x.example>",
        "<b@y.example>",
    ]
    assert message_ids("<\udce9@raw.example>") == []
