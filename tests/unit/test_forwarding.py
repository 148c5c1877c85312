"""転送設定's rules: a whole address, not the mailbox, not twice, at most five; the plan."""

from __future__ import annotations

import pytest

from sekisho.rules.forwarding import (
    MAX_TARGETS,
    NOT_FORWARDED,
    ForwardPlan,
    ForwardTarget,
    check_target,
    forward_plan,
    forward_trace,
    trace_value,
)


@pytest.mark.parametrize("address", ["jiro@mobile.example", "Ｊｉｒｏ@Example.COM", "a.b+c@x-y.jp"])
def test_a_whole_address_is_accepted(address: str) -> None:
    assert check_target(address, "taro@example.jp", []) == []


@pytest.mark.parametrize(
    ("entry", "registered", "expected"),
    [
        ("", [], "Enter the forwarding address."),
        ("example.com", [], "is not a whole mail address"),
        ("jiro@", [], "is not a whole mail address"),
        ("jiro@localhost", [], "is not a whole mail address"),
        ("ji ro@example.com", [], "is not a whole mail address"),
        ("jiro@example.com\r\nBcc: x@evil.example", [], "is not a whole mail address"),
        ("a..b@example.com", [], "is not a whole mail address"),
        ("TARO@example.jp", [], "is this mailbox itself"),
        ("jiro@example.com", ["Jiro@Example.com"], "is already a forwarding address"),
        ("x" * 321 + "@example.com", [], "at most 320 characters"),
        ("new@example.com", [f"t{i}@example.com" for i in range(MAX_TARGETS)], "At most 5"),
    ],
)
def test_each_bad_target_is_named(entry: str, registered: list[str], expected: str) -> None:
    (problem,) = check_target(entry, "taro@example.jp", registered)
    assert expected in problem.render()


def test_the_mailbox_keeps_its_copy_unless_every_target_says_not_to() -> None:
    both = (ForwardTarget("a@x.example", False), ForwardTarget("b@x.example", True))
    assert forward_plan("taro@example.jp", both, frozenset()) == ForwardPlan(
        ("a@x.example", "b@x.example"), keep_mailbox=True
    )
    only = (ForwardTarget("a@x.example", False),)
    assert forward_plan("taro@example.jp", only, frozenset()).keep_mailbox is False


KEY = b"installation secret"
MESSAGE_ID = "<1@client.example>"


def test_a_mail_this_mailbox_already_forwarded_is_delivered_not_forwarded() -> None:
    values = [
        trace_value(address, MESSAGE_ID, KEY)
        for address in ("Taro@Example.JP", "hanako@example.jp")
    ]
    trace = forward_trace(values, MESSAGE_ID, KEY)
    targets = (ForwardTarget("a@x.example", False),)
    assert forward_plan("taro@example.jp", targets, trace) == NOT_FORWARDED
    assert forward_plan("taro@example.jp", (), frozenset()) == NOT_FORWARDED


@pytest.mark.parametrize(
    "forged",
    [
        "taro@example.jp",
        "taro@example.jp; mac=00000000000000000000000000000000",
        "taro@example.jp; mac=ｍａｃ",
        trace_value("taro@example.jp", "<other@client.example>", KEY),
        trace_value("taro@example.jp", MESSAGE_ID, b"another installation"),
    ],
)
def test_a_trace_without_a_valid_mac_is_not_believed(forged: str) -> None:
    assert forward_trace([forged], MESSAGE_ID, KEY) == frozenset()
