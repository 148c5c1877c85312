"""Entry validation for the From list: each broken rule has its own message."""

from __future__ import annotations

from sekisho.rules.validate import check_address_entries


def messages(text: str, existing: tuple[str, ...] = ()) -> list[str]:
    return [p.render() for p in check_address_entries(text, existing).problems]


def test_clean_entries_are_normalised_and_blank_lines_ignored() -> None:
    check = check_address_entries("\n  Bad.Example \n\nTaro@Spam.JP\n\n")
    assert check.ok
    assert check.values == ("bad.example", "taro@spam.jp")


def test_twenty_lines_pass_and_twenty_one_are_refused() -> None:
    twenty = "\n".join(f"spam{i}.example" for i in range(20))
    assert check_address_entries(twenty).ok
    assert messages(twenty + "\nspam20.example") == [
        "At most 20 lines can be registered at once; you entered 21."
    ]


def test_blank_lines_do_not_count_toward_the_limit() -> None:
    twenty = "\n\n".join(f"spam{i}.example" for i in range(20))
    assert check_address_entries(twenty + "\n\n\n").ok


def test_import_has_no_line_limit() -> None:
    lines = [f"spam{i}.example" for i in range(500)]
    assert check_address_entries(lines, max_lines=None).ok


def test_320_characters_pass_and_321_are_refused() -> None:
    label = "a" * 63
    ok = ".".join([label] * 5)[:316] + ".com"
    assert len(ok) == 320
    assert check_address_entries(ok).ok
    problems = messages("x" + ok)
    assert len(problems) == 1
    assert "is 321 characters long; at most 320 are allowed" in problems[0]
    assert problems[0].startswith("Line 1:")


def test_duplicate_of_a_registered_entry_is_named() -> None:
    assert messages("ok.example\nBAD.example", existing=("bad.example",)) == [
        "Line 2: “BAD.example” is already registered."
    ]


def test_duplicate_within_the_submission_names_both_lines() -> None:
    assert messages("a.example\nb.example\nA.EXAMPLE") == ["Line 3: “A.EXAMPLE” repeats line 1."]


def test_space_inside_an_entry() -> None:
    assert messages("bad example.com") == [
        "Line 1: “bad example.com” contains a space; enter one address per line."
    ]


def test_control_character() -> None:
    assert messages("ok.example\nbad\x07.example") == [
        "Line 2: “bad�.example” contains a control character."
    ]


def test_local_part_alone_is_refused_with_advice() -> None:
    (problem,) = messages("taro@")
    assert "local part alone" in problem


def test_other_shapes() -> None:
    assert messages("a@b@c.example") == ["Line 1: “a@b@c.example” contains more than one “@”."]
    assert messages("bad..example") == ["Line 1: “bad..example” is not a valid domain or address."]
    assert messages("<a@b.example>") == [
        "Line 1: “<a@b.example>” contains a character that cannot be part of an address."
    ]
    assert messages("") == ["Enter at least one address or domain."]


def test_word_without_dot_is_accepted_with_a_warning() -> None:
    check = check_address_entries("xyz")
    assert check.ok
    assert [w.render() for w in check.warnings] == [
        "Line 1: “xyz” has no dot, so it blocks every address under the top-level domain .xyz."
    ]


def test_every_problem_is_reported_at_once() -> None:
    text = "good.example\nbad one\nx@\ngood.example"
    assert len(check_address_entries(text).problems) == 3


def test_entries_that_could_never_match_are_refused() -> None:
    assert messages("*.bad.example") == [
        "Line 1: “*.bad.example”: no “*” is needed; a domain (example.com) already covers "
        "all its subdomains."
    ]
    assert messages("bad.example/x") == [
        "Line 1: “bad.example/x” contains a character that cannot be part of an address."
    ]
    assert messages("a@-") == ["Line 1: “a@-” is not a valid domain or address."]


def test_full_width_and_idn_entries_are_kept_readable() -> None:
    check = check_address_entries("ｂａｄ.example\n例え.JP\nBad.Example.")
    assert check.values == ("bad.example", "例え.jp")
    assert [p.render() for p in check.problems] == ["Line 3: “Bad.Example.” repeats line 1."]
