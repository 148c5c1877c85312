"""Allow list: the header From (never the envelope sender) matched like the From list."""

from __future__ import annotations

import pytest

from sekisho.rules import allow_from
from sekisho.rules.addresses import SuffixMatcher
from sekisho.rules.model import Message, Policy, RuleHit


def policy(*entries: str) -> Policy:
    return Policy("taro@example.jp", 1, 1, allow_from=SuffixMatcher.build(entries))


def check(entries: tuple[str, ...], *from_values: str, sender: str = "") -> RuleHit | None:
    message = Message(sender, tuple(("From", value) for value in from_values))
    return allow_from.check(policy(*entries), message)


@pytest.mark.parametrize(
    ("entry", "from_value", "address"),
    [
        ("ok.example", "friend@ok.example", "friend@ok.example"),
        ("ok.example", "friend@mail.ok.example", "friend@mail.ok.example"),
        ("ok.example", "friend@a.b.ok.example", "friend@a.b.ok.example"),
        ("@ok.example", "friend@ok.example", "friend@ok.example"),
        ("friend@ok.example", "friend@ok.example", "friend@ok.example"),
        ("ok.example", '"Friend" <Friend@OK.Example>', "friend@ok.example"),
        ("ok.example", "Ｆｒｉｅｎｄ＠ｏｋ．ｅｘａｍｐｌｅ", "friend@ok.example"),
        ("ok.example", "friend@ok.example.", "friend@ok.example"),
        ("例え.jp", "friend@xn--r8jz45g.jp", "friend@xn--r8jz45g.jp"),
    ],
)
def test_header_from_is_allowed_by_suffix_rules(entry: str, from_value: str, address: str) -> None:
    assert check((entry,), from_value) == RuleHit("allow_from", entry, address)


@pytest.mark.parametrize(
    ("entry", "from_value"),
    [
        ("ok.example", "friend@notok.example"),
        ("ok.example", "friend@ok.example.evil.example"),
        ("@ok.example", "friend@mail.ok.example"),
        ("friend@ok.example", "other@ok.example"),
        ("friend@ok.example", "friend@mail.ok.example"),
    ],
)
def test_header_from_outside_the_rule_is_not_allowed(entry: str, from_value: str) -> None:
    assert check((entry,), from_value) is None


def test_the_entry_named_is_the_one_that_matched() -> None:
    entries = ("other.example", "friend@ok.example", "ok.example")
    assert check(entries, "friend@ok.example") == RuleHit(
        "allow_from", "friend@ok.example", "friend@ok.example"
    )
    assert check(entries, "x@ok.example") == RuleHit("allow_from", "ok.example", "x@ok.example")


def test_envelope_sender_alone_does_not_allow() -> None:
    message = Message("friend@ok.example", (("From", "x@other.example"),))
    assert allow_from.check(policy("ok.example"), message) is None


def test_envelope_sender_without_header_from_does_not_allow() -> None:
    assert allow_from.check(policy("ok.example"), Message("friend@ok.example")) is None


def test_header_from_allows_whatever_the_envelope_sender() -> None:
    hit = check(("ok.example",), "friend@ok.example", sender="bounce-123@esp.example")
    assert hit == RuleHit("allow_from", "ok.example", "friend@ok.example")


def test_from_with_two_allowed_addresses_is_allowed() -> None:
    hit = check(("ok.example", "@fine.example"), "a@ok.example, b@fine.example")
    assert hit == RuleHit("allow_from", "ok.example", "a@ok.example")


@pytest.mark.parametrize(
    "from_value",
    ["a@ok.example, b@other.example", "b@other.example, a@ok.example", '"A" <a@ok.example>, b@x.y'],
)
def test_from_with_two_addresses_is_not_allowed_unless_both_match(from_value: str) -> None:
    assert check(("ok.example",), from_value) is None


def test_two_from_fields_are_allowed_only_when_both_match() -> None:
    assert check(("ok.example",), "a@ok.example", "b@ok.example") is not None
    assert check(("ok.example",), "a@ok.example", "b@other.example") is None


def test_no_from_header_is_not_allowed() -> None:
    assert check(("ok.example",)) is None


@pytest.mark.parametrize("from_value", ["", "<>", '"Friend at ok.example" <>'])
def test_from_without_an_address_is_not_allowed(from_value: str) -> None:
    assert check(("ok.example",), from_value) is None


def test_empty_allow_list_allows_nothing() -> None:
    assert check((), "friend@ok.example") is None
    assert (
        allow_from.check(Policy("taro@example.jp", 1, 1), Message("", (("From", "a@b.c"),))) is None
    )


def test_rule_name_is_allow_from() -> None:
    assert allow_from.name == "allow_from"


def test_display_name_that_looks_like_an_allowed_address_does_not_allow() -> None:
    assert check(("ok.example",), '"friend@ok.example" <spam@bad.example>') is None


@pytest.mark.parametrize(
    "from_value",
    [
        "spam@bad.example friend@ok.example",
        "spam@bad.example@friend@ok.example",
        "<>, friend@ok.example",
    ],
)
def test_malformed_from_naming_another_address_is_not_allowed(from_value: str) -> None:
    assert check(("ok.example",), from_value) is None
