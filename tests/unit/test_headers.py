"""The reason header never carries raw or injected text."""

from __future__ import annotations

from email.header import decode_header, make_header

from sekisho.milter.headers import quarantine_reason
from sekisho.rules.model import RuleHit


def test_ascii_reason() -> None:
    hit = RuleHit("reject_from", "bad.example", "a@bad.example")
    assert (
        quarantine_reason(hit) == 'rule=reject_from; entry="bad.example"; matched="a@bad.example"'
    )


def test_raw_8bit_and_control_characters_are_made_safe() -> None:
    raw = "送信者".encode("shift_jis").decode("utf-8", "surrogateescape")
    hit = RuleHit("reject_from", "例え.jp", f"{raw}\r\nX-Injected: yes@xn--r8jz45g.jp")
    value = quarantine_reason(hit)
    assert value.isascii()
    assert "\r" not in value
    assert "\n" not in value.replace("\n ", "")  # only RFC 2047 folding
    decoded = str(make_header(decode_header(value)))
    assert "送信者" in decoded
    assert "例え.jp" in decoded


def decoded(value: str) -> str:
    return str(make_header(decode_header(value)))


def test_a_japanese_entry_decodes_to_exactly_the_reason() -> None:
    hit = RuleHit("reject_subject", "未承諾広告", "【未承諾広告】今だけ 半額セール")
    value = quarantine_reason(hit)
    assert value.startswith("rule=reject_subject;\n =?utf-8?b?")  # rule= stays greppable
    assert (
        decoded(value)
        == 'rule=reject_subject; entry="未承諾広告"; matched="【未承諾広告】今だけ 半額セール"'
    )


def test_only_the_words_that_need_it_are_encoded() -> None:
    hit = RuleHit("reject_from", "例え.jp", "x@xn--r8jz45g.jp")
    value = quarantine_reason(hit)
    assert value.endswith(' matched="x@xn--r8jz45g.jp"')
    assert decoded(value) == 'rule=reject_from; entry="例え.jp"; matched="x@xn--r8jz45g.jp"'


def test_spaces_and_text_that_looks_encoded_survive_decoding() -> None:
    hit = RuleHit("reject_subject", "日  b", "a  =?utf-8?q?x?= 日 ")
    assert decoded(quarantine_reason(hit)) == (
        'rule=reject_subject; entry="日  b"; matched="a  =?utf-8?q?x?= 日 "'
    )


def test_a_long_reason_is_folded_within_78_characters_and_decodes_whole() -> None:
    matched = "【未承諾広告】今だけ 半額  セール" * 20
    value = quarantine_reason(RuleHit("reject_subject", "未承諾広告", matched))
    lines = f"X-Sekisho-Quarantine-Reason: {value}".split("\n")
    assert all(len(line) <= 78 and line.strip() for line in lines)
    assert decoded(value) == f'rule=reject_subject; entry="未承諾広告"; matched="{matched[:200]}"'
