"""The password rules of docs/features.md §3: each broken rule on its own gets its own message."""

from __future__ import annotations

import pytest

from sekisho.rules.passwords import password_problems


@pytest.mark.parametrize("password", ["abc123", "A1%+-./:=@^_", "x" * 31 + "1", "Taro2026"])
def test_good_passwords_pass(password: str) -> None:
    assert password_problems(password) == []


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("abc12", "too short: use at least 6 characters (5 now)"),
        ("a" * 32 + "1", "too long: use at most 32 characters (33 now)"),
        ("abcdefg", "at least one digit"),
        ("1234567", "at least one letter"),
        ("abc 123", "contains a space"),
        ("abcｄ123", "full-width or other non-ASCII characters (ｄ)"),
        ("abc#123", "The symbols # cannot be used; the symbols allowed are % + - . / : = @ ^ _"),
    ],
)
def test_each_broken_rule_has_its_own_message(password: str, expected: str) -> None:
    (problem,) = password_problems(password)
    assert expected in problem.render()
