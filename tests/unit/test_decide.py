"""The per-recipient decision: the From rule on the envelope and on the header From."""

from __future__ import annotations

import base64
import itertools

import pytest

from sekisho.rules.addresses import SuffixMatcher
from sekisho.rules.decide import DECISION_TABLE, decide
from sekisho.rules.model import (
    DELIVER,
    Action,
    Decision,
    HeaderCheck,
    Message,
    Policy,
    RuleHit,
)
from sekisho.rules.subjects import SubstringMatcher, subject_key
from sekisho.rules.validate import ListEntry


def policy(*entries: str) -> Policy:
    return Policy("taro@example.jp", 1, 1, SuffixMatcher.build(entries))


def test_envelope_sender_hit_quarantines_and_names_the_rule() -> None:
    decision = decide(policy("bad.example"), Message("someone@bad.example"))
    assert decision.action is Action.QUARANTINE
    assert decision.hit == RuleHit("reject_from", "bad.example", "someone@bad.example")


def test_header_from_hit_when_the_envelope_differs() -> None:
    message = Message("bounce@esp.example", (("From", '"Shop" <News@Bad.Example>'),))
    decision = decide(policy("bad.example"), message)
    assert decision.hit == RuleHit("reject_from", "bad.example", "news@bad.example")


def test_no_entry_delivers() -> None:
    assert decide(policy(), Message("someone@bad.example")).action is Action.DELIVER


def test_other_sender_delivers() -> None:
    message = Message("friend@good.example", (("From", "friend@good.example"),))
    assert not decide(policy("bad.example"), message).quarantined


def test_null_sender_is_not_matched_by_domain_entries() -> None:
    assert not decide(policy("bad.example"), Message("")).quarantined


def test_subject_is_decoded() -> None:
    message = Message("a@b.example", (("Subject", "=?UTF-8?B?5pyq5om/6Ku+5bqD5ZGK?="),))
    assert message.subject == "未承諾広告"


def test_raw_shift_jis_subject_is_decoded_for_display() -> None:
    raw = "未承諾広告".encode("shift_jis").decode("utf-8", "surrogateescape")
    assert Message("a@b.example", (("Subject", raw),)).subject == "未承諾広告"


def test_undecodable_subject_never_raises() -> None:
    raw = b"\xff\xfe\xfd ok".decode("utf-8", "surrogateescape")
    assert Message("a@b.example", (("Subject", raw),)).subject.endswith(" ok")


# --- precedence: allow_from → reject_from → reject_subject → reject_header ---------------

PRECEDENCE = ("allow_from", "reject_from", "reject_subject", "reject_header")
BULK_SENDER = "bulk@bad.example"
FRIEND_FROM = ("From", "friend@ok.example")
SPAM_SUBJECT = ("Subject", "spam offer")


def subjects(*values: str) -> SubstringMatcher:
    return SubstringMatcher.build(ListEntry(value, subject_key(value)) for value in values)


def full_policy(
    allow: tuple[str, ...] = (),
    reject: tuple[str, ...] = (),
    subject: tuple[str, ...] = (),
    header: frozenset[HeaderCheck] = frozenset(),
) -> Policy:
    return Policy(
        "taro@example.jp",
        1,
        1,
        reject_from=SuffixMatcher.build(reject),
        reject_subject=subjects(*subject),
        reject_header=header,
        allow_from=SuffixMatcher.build(allow),
    )


def policy_with(rules: tuple[str, ...]) -> Policy:
    """Only ``rules`` configured, each so that it catches the scenario message."""
    return full_policy(
        allow=("ok.example",) if "allow_from" in rules else (),
        reject=("bad.example",) if "reject_from" in rules else (),
        subject=("spam",) if "reject_subject" in rules else (),
        header=frozenset(HeaderCheck) if "reject_header" in rules else frozenset(),
    )


def scenario_message(rules: tuple[str, ...]) -> Message:
    """A message every rule of ``rules`` catches under policy_with(rules).

    The envelope sender is on the From reject list; the header From is on the allow list;
    the subject holds "spam". A header anomaly needs a missing From or Subject: the Subject
    goes missing, or the From when the Subject has to be there.
    """
    headers: list[tuple[str, str]] = []
    if not {"reject_subject", "reject_header"} <= set(rules):
        headers.append(FRIEND_FROM)
    if "reject_subject" in rules:
        headers.append(SPAM_SUBJECT)
    return Message(BULK_SENDER, tuple(headers))


@pytest.mark.parametrize(("higher", "lower"), list(itertools.combinations(PRECEDENCE, 2)))
def test_the_earlier_rule_of_every_pair_decides(higher: str, lower: str) -> None:
    message = scenario_message((higher, lower))
    # each rule of the pair catches the message on its own, so the pair really competes
    for rule in (higher, lower):
        alone = decide(policy_with((rule,)), message)
        assert alone.hit is not None
        assert alone.hit.rule == rule
    decision = decide(policy_with((higher, lower)), message)
    assert decision.hit is not None
    assert decision.hit.rule == higher
    expected = Action.DELIVER if higher == "allow_from" else Action.QUARANTINE
    assert decision.action is expected
    assert decision.allowed is (higher == "allow_from")


def test_every_rule_on_the_allow_list_still_wins() -> None:
    message = Message(BULK_SENDER, (FRIEND_FROM,))
    decision = decide(policy_with(PRECEDENCE), message)
    assert decision == Decision(
        Action.DELIVER, RuleHit("allow_from", "ok.example", "friend@ok.example")
    )


def test_allow_beats_from_reject_of_the_same_header_from() -> None:
    message = Message("friend@ok.example", (FRIEND_FROM,))
    decision = decide(full_policy(allow=("friend@ok.example",), reject=("ok.example",)), message)
    assert decision.action is Action.DELIVER
    assert decision.hit == RuleHit("allow_from", "friend@ok.example", "friend@ok.example")
    assert decision.allowed
    assert not decision.quarantined


def test_allow_beats_from_reject_of_the_envelope_sender() -> None:
    message = Message(BULK_SENDER, (FRIEND_FROM,))
    decision = decide(full_policy(allow=("ok.example",), reject=("bad.example",)), message)
    assert decision.allowed
    assert decision.hit is not None
    assert decision.hit.rule == "allow_from"


def test_allow_beats_subject_reject() -> None:
    message = Message("friend@ok.example", (FRIEND_FROM, SPAM_SUBJECT))
    decision = decide(full_policy(allow=("ok.example",), subject=("spam",)), message)
    assert decision.action is Action.DELIVER
    assert decision.hit == RuleHit("allow_from", "ok.example", "friend@ok.example")
    assert decision.allowed


@pytest.mark.parametrize(
    ("check", "headers"),
    [
        (HeaderCheck.SUBJECT_MISSING, (FRIEND_FROM,)),
        (HeaderCheck.SUBJECT_EMPTY, (FRIEND_FROM, ("Subject", ""))),
        (HeaderCheck.SUBJECT_EMPTY, (FRIEND_FROM, ("Subject", "=?UTF-8?B??="))),
    ],
)
def test_allow_beats_the_header_checks(
    check: HeaderCheck, headers: tuple[tuple[str, str], ...]
) -> None:
    message = Message("friend@ok.example", headers)
    assert decide(full_policy(header=frozenset({check})), message).quarantined
    decision = decide(full_policy(allow=("ok.example",), header=frozenset({check})), message)
    assert decision.action is Action.DELIVER
    assert decision.hit == RuleHit("allow_from", "ok.example", "friend@ok.example")
    assert decision.allowed


def test_allow_beats_all_header_checks_on_at_once() -> None:
    message = Message("friend@ok.example", (FRIEND_FROM,))
    decision = decide(full_policy(allow=("ok.example",), header=frozenset(HeaderCheck)), message)
    assert decision.allowed


def test_from_missing_is_not_lifted_by_an_allowed_envelope_sender() -> None:
    # the allow list reads the header From only: without one, nothing is allowed
    message = Message("friend@ok.example", (SPAM_SUBJECT,))
    policy_ = full_policy(allow=("ok.example",), header=frozenset({HeaderCheck.FROM_MISSING}))
    decision = decide(policy_, message)
    assert decision.action is Action.QUARANTINE
    assert decision.hit == RuleHit("reject_header", "from_missing", "")
    assert not decision.allowed


def test_from_reject_beats_subject_reject() -> None:
    message = Message(BULK_SENDER, (("From", "news@bad.example"), SPAM_SUBJECT))
    decision = decide(full_policy(reject=("bad.example",), subject=("spam",)), message)
    assert decision.action is Action.QUARANTINE
    assert decision.hit == RuleHit("reject_from", "bad.example", BULK_SENDER)
    assert not decision.allowed


def test_subject_reject_beats_header_reject() -> None:
    message = Message("a@b.example", (SPAM_SUBJECT,))
    policy_ = full_policy(subject=("spam",), header=frozenset(HeaderCheck))
    decision = decide(policy_, message)
    assert decision.hit == RuleHit("reject_subject", "spam", "spam offer")
    assert decision.quarantined


def test_header_reject_alone_quarantines() -> None:
    message = Message("a@b.example", (("From", "<>"), ("Subject", "Hi")))
    decision = decide(full_policy(header=frozenset({HeaderCheck.FROM_EMPTY_ANGLE})), message)
    assert decision == Decision(
        Action.QUARANTINE, RuleHit("reject_header", "from_empty_angle", "<>")
    )
    assert not decision.allowed


def test_message_caught_by_nothing_is_delivered_without_a_hit() -> None:
    policy_ = full_policy(
        allow=("ok.example",),
        reject=("bad.example",),
        subject=("spam",),
        header=frozenset(HeaderCheck),
    )
    message = Message(
        "someone@other.example", (("From", "someone@other.example"), ("Subject", "Hi"))
    )
    decision = decide(policy_, message)
    assert decision == DELIVER
    assert decision.action is Action.DELIVER
    assert decision.hit is None
    assert not decision.allowed
    assert not decision.quarantined


def test_an_empty_policy_delivers_everything() -> None:
    decision = decide(full_policy(), Message("", ()))
    assert decision.hit is None
    assert not decision.allowed


def test_a_custom_table_is_walked_in_its_order() -> None:
    table = tuple(reversed(DECISION_TABLE))
    message = Message(BULK_SENDER, (FRIEND_FROM,))
    decision = decide(policy_with(("allow_from", "reject_from")), message, table)
    assert decision.hit is not None
    assert decision.hit.rule == "reject_from"


def test_malformed_from_does_not_hide_a_rejected_address() -> None:
    message = Message("bounce@esp.example", (("From", "spam@bad.example friend@ok.example"),))
    assert decide(full_policy(reject=("bad.example",)), message).quarantined


# --- Japanese subjects -----------------------------------------------------------------

NOTICE = "未承諾広告のお知らせ"


def encoded_word(text: str, charset: str, codec: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(codec)).decode('ascii')}?="


def raw_8bit(text: str, codec: str) -> str:
    """Header bytes as the milter hands them over: undecodable bytes surrogate-escaped."""
    return text.encode(codec).decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    "subject",
    [
        pytest.param(encoded_word(NOTICE, "ISO-2022-JP", "iso2022_jp"), id="iso-2022-jp-B"),
        pytest.param(encoded_word(NOTICE, "iso-2022-jp", "iso2022_jp"), id="iso-2022-jp-lower"),
        pytest.param(encoded_word(NOTICE, "Shift_JIS", "cp932"), id="shift_jis-B"),
        pytest.param(encoded_word(NOTICE, "EUC-JP", "euc_jp"), id="euc-jp-B"),
        pytest.param(encoded_word(NOTICE, "UTF-8", "utf-8"), id="utf-8-B"),
        pytest.param(f"Re: {encoded_word(NOTICE, 'UTF-8', 'utf-8')}", id="utf-8-B-after-text"),
        pytest.param(raw_8bit(NOTICE, "utf-8"), id="raw-utf-8"),
        pytest.param(raw_8bit(NOTICE, "cp932"), id="raw-shift_jis"),
        pytest.param(raw_8bit(NOTICE, "euc_jp"), id="raw-euc-jp"),
        pytest.param(NOTICE.encode("iso2022_jp").decode("ascii"), id="raw-iso-2022-jp"),
    ],
)
def test_japanese_subject_is_caught_in_every_encoding(subject: str) -> None:
    message = Message("a@b.example", (("From", "a@b.example"), ("Subject", subject)))
    decision = decide(full_policy(subject=("未承諾広告",)), message)
    assert decision.action is Action.QUARANTINE
    assert decision.hit is not None
    assert decision.hit.rule == "reject_subject"
    assert decision.hit.entry == "未承諾広告"
    assert "未承諾広告" in decision.hit.matched


def test_raw_utf_8_subject_is_a_plain_str_after_surrogate_escape() -> None:
    # valid UTF-8 needs no escape: the str the milter passes is the text itself
    assert raw_8bit(NOTICE, "utf-8") == NOTICE


def test_hit_names_the_decoded_subject() -> None:
    subject = encoded_word(NOTICE, "ISO-2022-JP", "iso2022_jp")
    decision = decide(
        full_policy(subject=("未承諾広告",)), Message("a@b.example", (("Subject", subject),))
    )
    assert decision.hit == RuleHit("reject_subject", "未承諾広告", NOTICE)


@pytest.mark.parametrize(
    ("charset", "codec", "split"),
    [
        ("UTF-8", "utf-8", 6),  # between 未承 and 諾 (3 bytes a character)
        ("UTF-8", "utf-8", 7),  # inside 諾: the character is split across the words
        ("ISO-2022-JP", "iso2022_jp", 7),  # ESC $ B 未承 / 諾広告... in the next word
        ("Shift_JIS", "cp932", 5),  # inside 諾 (2 bytes a character)
    ],
)
def test_folded_subject_is_matched_across_the_fold(charset: str, codec: str, split: int) -> None:
    data = NOTICE.encode(codec)
    first, second = (
        base64.b64encode(part).decode("ascii") for part in (data[:split], data[split:])
    )
    subject = f"=?{charset}?B?{first}?=\r\n =?{charset}?B?{second}?="
    message = Message("a@b.example", (("Subject", subject),))
    decision = decide(full_policy(subject=("未承諾広告",)), message)
    assert decision.hit == RuleHit("reject_subject", "未承諾広告", NOTICE)


def test_folded_plain_subject_is_matched_across_the_fold() -> None:
    message = Message("a@b.example", (("Subject", "WIN\r\n BIG today"),))
    decision = decide(full_policy(subject=("win big",)), message)
    assert decision.hit == RuleHit("reject_subject", "win big", "WIN BIG today")


def test_half_width_katakana_subject_is_caught_by_a_full_width_entry() -> None:
    subject = encoded_word("ｾｰﾙのお知らせ", "Shift_JIS", "cp932")
    decision = decide(
        full_policy(subject=("セール",)), Message("a@b.example", (("Subject", subject),))
    )
    assert decision.hit is not None
    assert decision.hit.entry == "セール"


def test_a_second_subject_field_is_searched_too() -> None:
    policy = Policy(
        "taro@example.jp",
        1,
        1,
        reject_subject=SubstringMatcher.build([ListEntry("未承諾広告", subject_key("未承諾広告"))]),
    )
    message = Message("a@sender.example", (("Subject", "hello"), ("Subject", "【未承諾広告】")))
    decision = decide(policy, message)
    assert decision.quarantined
    assert decision.hit == RuleHit("reject_subject", "未承諾広告", "【未承諾広告】")
