"""Subject reject list: the substring matcher and the rules a submitted entry must follow."""

from __future__ import annotations

from collections.abc import Container

import pytest

from sekisho.rules.subjects import SubstringMatcher, check_subject_entries, subject_key
from sekisho.rules.validate import FORM_MAX_LINES, ListEntry


def matcher(*values: str) -> SubstringMatcher:
    return SubstringMatcher.build(ListEntry(value, subject_key(value)) for value in values)


def messages(
    text: str, registered: Container[str] = frozenset(), max_lines: int | None = FORM_MAX_LINES
) -> list[str]:
    return [p.render() for p in check_subject_entries(text, registered, max_lines).problems]


def messages_of_lines(lines: list[str]) -> list[str]:
    return [p.render() for p in check_subject_entries(lines).problems]


# --- SubstringMatcher ------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    ["spam", "Buy spam now", "spam at the start", "at the end: spam", "xxspamxx"],
)
def test_entry_matches_anywhere_in_the_subject(subject: str) -> None:
    assert matcher("spam").match(subject) == "spam"


@pytest.mark.parametrize("subject", ["hello WORLD", "HELLO", "Say hElLo"])
def test_latin_letters_match_case_insensitively(subject: str) -> None:
    assert matcher("Hello").match(subject) == "Hello"


def test_upper_case_subject_is_caught_by_a_lower_case_entry() -> None:
    assert matcher("win big").match("YOU WIN BIG TODAY") == "win big"


@pytest.mark.parametrize("subject", ["ＷＩＮ", "ｗｉｎ", "Ｗin a prize"])
def test_full_width_latin_in_the_subject_is_folded(subject: str) -> None:
    assert matcher("win").match(subject) == "win"


def test_full_width_entry_catches_a_half_width_subject() -> None:
    assert matcher("ＷＩＮ").match("you win") == "ＷＩＮ"


def test_half_width_katakana_in_the_subject_is_folded() -> None:
    assert matcher("アイウ").match("【ｱｲｳｴｵ】のお知らせ") == "アイウ"


def test_half_width_voiced_katakana_is_composed_before_matching() -> None:
    # ｶﾞ is two code points (ｶ + ﾞ); NFKC makes it the one character ガ
    assert matcher("ガイド").match("ｶﾞｲﾄﾞ無料") == "ガイド"


@pytest.mark.parametrize(
    "subject",
    ["win big", "win   big", "win\tbig", "win\u3000big", "win \u3000 \t big", "ｗｉｎ　ＢＩＧ"],
)
def test_runs_of_white_space_compare_as_one_space(subject: str) -> None:
    assert matcher("win big").match(subject) == "win big"


def test_white_space_in_the_entry_is_collapsed_too() -> None:
    assert matcher("win \u3000  big").match("win big") == "win \u3000  big"


@pytest.mark.parametrize("subject", ["", "hello", "w i n", "wi n", "ｗｉ"])
def test_subject_without_an_entry_returns_none(subject: str) -> None:
    assert matcher("win", "spam").match(subject) is None


def test_white_space_is_not_ignored_altogether() -> None:
    assert matcher("win big").match("winbig") is None


def test_with_several_entries_the_value_returned_is_contained_in_the_subject() -> None:
    values = ("free", "win big", "未承諾広告", "offer")
    subject = "FREE money — ｗｉｎ　ＢＩＧ 未承諾広告"
    found = matcher(*values).match(subject)
    assert found in {"free", "win big", "未承諾広告"}
    assert subject_key(found) in subject_key(subject)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [("only free here", "free"), ("an offer", "offer"), ("未承諾広告です", "未承諾広告")],
)
def test_each_of_several_entries_is_found_on_its_own(subject: str, expected: str) -> None:
    assert matcher("free", "win big", "未承諾広告", "offer").match(subject) == expected


def test_the_registered_value_is_returned_not_the_key() -> None:
    assert matcher("  Win  BIG ").match("you win big") == "  Win  BIG "


def test_empty_matcher_has_no_entries_and_matches_nothing() -> None:
    empty = SubstringMatcher.build([])
    assert len(empty) == 0
    assert empty.match("") is None
    assert empty.match("anything at all") is None


def test_entries_with_an_empty_key_are_not_counted() -> None:
    built = SubstringMatcher.build([ListEntry("", ""), ListEntry("win", "win")])
    assert len(built) == 1
    assert built.match("") is None


def test_len_counts_the_entries() -> None:
    assert len(matcher("a1", "b2", "c3")) == 3


def test_one_hundred_thousand_entries_match_correctly() -> None:
    big = matcher(*(f"spam-campaign-{i:06d}" for i in range(100_000)))
    assert len(big) == 100_000
    assert big.match("Re: SPAM-CAMPAIGN-054321 ends today") == "spam-campaign-054321"
    assert big.match("spam-campaign-099999") == "spam-campaign-099999"
    assert big.match("spam campaign 054321") is None
    assert big.match("spam-campaign-05432") is None


def test_matchers_with_different_entries_are_not_equal() -> None:
    assert matcher("win") != matcher("spam")


# --- check_subject_entries -------------------------------------------------------------


def test_two_characters_are_accepted() -> None:
    check = check_subject_entries("ab")
    assert check.ok
    assert check.values == ("ab",)


def test_one_character_is_refused_as_too_short() -> None:
    assert messages("a") == ["Line 1: “a” is too short; enter at least 2 characters."]


def test_320_characters_are_accepted() -> None:
    check = check_subject_entries("a" * 320)
    assert check.ok
    assert check.values == ("a" * 320,)


def test_321_characters_are_refused() -> None:
    assert messages("a" * 321) == [
        f"Line 1: “{'a' * 37}…” is 321 characters long; at most 320 are allowed."
    ]


def test_half_width_katakana_is_refused_naming_the_characters_and_the_full_width_form() -> None:
    assert messages("ｾｰﾙ中") == [
        "Line 1: “ｾｰﾙ中” contains half-width katakana (ｾｰﾙ); enter them full-width (セール中)."
    ]


def test_half_width_katakana_names_each_character_once() -> None:
    (problem,) = messages("ｱｱｲｱ")
    assert "(ｱｲ)" in problem
    assert "(アアイア)" in problem


def test_half_width_katakana_suggestion_keeps_every_voiced_mark() -> None:
    (problem,) = messages("ｶﾞｷﾞ")
    assert "ギ" in problem


def test_full_width_katakana_is_accepted() -> None:
    assert check_subject_entries("セール中").ok


@pytest.mark.parametrize("char", ["\x07", "\x00", "\x1b", "\u200b", "\u202e", "\x7f"])
def test_control_characters_are_refused(char: str) -> None:
    assert messages(f"ok\nab{char}cd") == ["Line 2: “ab�cd” contains a control character."]


@pytest.mark.parametrize("char", ["\x0b", "\x0c", "\x1c", "\x85", "\u2028", "\u2029"])
def test_line_separating_control_characters_are_refused_not_split_on(char: str) -> None:
    # str.splitlines would end a line at each of these: only CR and LF do in the form
    assert messages(f"win{char}big\nHello\nHELLO") == [
        "Line 1: “win�big” contains a control character.",
        "Line 3: “HELLO” repeats line 2.",
    ]


def test_line_separating_control_characters_in_a_list_of_lines_are_refused() -> None:
    assert messages_of_lines(["win\x0bbig", "\u2028spam\u2028offer"]) == [
        "Line 1: “win�big” contains a control character.",
        "Line 2: “spam�offer” contains a control character.",
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_cr_lf_and_crlf_end_lines(newline: str) -> None:
    check = check_subject_entries(newline.join(["win big", "", "free"]))
    assert check.values == ("win big", "free")
    assert messages(newline.join(["ab", "", "AB"])) == ["Line 3: “AB” repeats line 1."]


def test_twenty_lines_are_accepted() -> None:
    assert check_subject_entries("\n".join(f"subject {i}" for i in range(20))).ok


def test_twenty_one_lines_are_refused() -> None:
    assert messages("\n".join(f"subject {i}" for i in range(21))) == [
        "At most 20 lines can be registered at once; you entered 21."
    ]


def test_blank_lines_are_ignored_and_entries_stripped() -> None:
    check = check_subject_entries("\n\n  win big  \n \t \n\u3000\nfree\n\n")
    assert check.ok
    assert check.values == ("win big", "free")
    assert check.entries == (ListEntry("win big", "win big"), ListEntry("free", "free"))


def test_blank_lines_do_not_count_toward_the_line_limit() -> None:
    assert check_subject_entries("\n\n\n".join(f"subject {i}" for i in range(20))).ok


def test_blank_lines_still_count_in_line_numbers() -> None:
    assert messages("\n\nab\n\nAB") == ["Line 5: “AB” repeats line 3."]


def test_entry_value_is_kept_as_typed_and_the_key_is_folded() -> None:
    check = check_subject_entries("ＷＩＮ  Big")
    assert check.entries == (ListEntry("ＷＩＮ  Big", "win big"),)


def test_case_insensitive_duplicate_names_the_first_line() -> None:
    assert messages("Hello\nHELLO") == ["Line 2: “HELLO” repeats line 1."]


def test_width_and_space_duplicates_are_refused_too() -> None:
    assert messages("win big\nfree\nＷＩＮ　 ＢＩＧ") == [
        "Line 3: “ＷＩＮ　 ＢＩＧ” repeats line 1."
    ]


def test_refused_duplicate_is_not_among_the_entries() -> None:
    check = check_subject_entries("Hello\nHELLO\nfree")
    assert not check.ok
    assert check.values == ("Hello", "free")


def test_registered_key_is_refused_as_already_registered() -> None:
    registered = {subject_key("hello"), subject_key("win big")}
    assert messages("free\nHello\nＷＩＮ  big", registered) == [
        "Line 2: “Hello” is already registered.",
        "Line 3: “ＷＩＮ  big” is already registered.",
    ]


def test_max_lines_none_lifts_the_line_limit() -> None:
    text = "\n".join(f"subject {i}" for i in range(500))
    check = check_subject_entries(text, max_lines=None)
    assert check.ok
    assert len(check.entries) == 500


def test_a_custom_line_limit_is_applied() -> None:
    assert messages("ab\ncd\nef", max_lines=2) == [
        "At most 2 lines can be registered at once; you entered 3."
    ]


@pytest.mark.parametrize("text", ["", "\n\n", " \u3000 \n\t"])
def test_nothing_entered_is_refused(text: str) -> None:
    assert messages(text) == ["Enter at least one subject."]


def test_every_problem_of_a_submission_is_reported() -> None:
    assert messages("a\nok entry\nｱｲ\nOK ENTRY") == [
        "Line 1: “a” is too short; enter at least 2 characters.",
        "Line 3: “ｱｲ” contains half-width katakana (ｱｲ); enter them full-width (アイ).",
        "Line 4: “OK ENTRY” repeats line 2.",
    ]
