"""The per-recipient decision: the From rule on the envelope and on the header From."""

from __future__ import annotations

from sekisho.rules.addresses import SuffixMatcher
from sekisho.rules.decide import decide
from sekisho.rules.model import Action, Message, Policy, RuleHit


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
