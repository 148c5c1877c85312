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
