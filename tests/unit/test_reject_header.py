"""Header reject settings: the five checks, one at a time and in their fixed order."""

from __future__ import annotations

import pytest

from sekisho.rules import reject_header
from sekisho.rules.encoded_words import decode_header_text
from sekisho.rules.model import HeaderCheck, Message, Policy, RuleHit

NORMAL_FROM = ("From", '"Shop" <news@shop.example>')
NORMAL_SUBJECT = ("Subject", "Hi")


def policy(*checks: HeaderCheck) -> Policy:
    return Policy("taro@example.jp", 1, 1, reject_header=frozenset(checks))


def message(*headers: tuple[str, str]) -> Message:
    return Message("bounce@shop.example", headers)


def hit(check: HeaderCheck, *headers: tuple[str, str]) -> RuleHit | None:
    return reject_header.check(policy(check), message(*headers))


# --- from_missing ----------------------------------------------------------------------


def test_from_missing_hits_a_message_without_from() -> None:
    assert hit(HeaderCheck.FROM_MISSING, NORMAL_SUBJECT) == RuleHit(
        "reject_header", "from_missing", ""
    )


def test_from_missing_hits_a_message_without_any_header() -> None:
    assert hit(HeaderCheck.FROM_MISSING) == RuleHit("reject_header", "from_missing", "")


def test_from_missing_is_not_satisfied_by_a_sender_field() -> None:
    assert hit(HeaderCheck.FROM_MISSING, ("Sender", "a@shop.example"), NORMAL_SUBJECT) is not None


@pytest.mark.parametrize("name", ["From", "from", "FROM"])
def test_from_missing_passes_a_message_with_from(name: str) -> None:
    assert hit(HeaderCheck.FROM_MISSING, (name, "news@shop.example"), NORMAL_SUBJECT) is None


@pytest.mark.parametrize("value", ["", "<>"])
def test_from_missing_passes_an_empty_from_field(value: str) -> None:
    # an empty From is there: it is the concern of from_empty and from_empty_angle
    assert hit(HeaderCheck.FROM_MISSING, ("From", value)) is None


# --- from_empty_angle ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["<>", " <> ", "< >", '"Shop" <>', "Shop <>", "=?UTF-8?B?5bqX?= <>", "\r\n <>"]
)
def test_from_empty_angle_hits_a_from_holding_only_empty_angles(value: str) -> None:
    assert hit(HeaderCheck.FROM_EMPTY_ANGLE, ("From", value), NORMAL_SUBJECT) == RuleHit(
        "reject_header", "from_empty_angle", value
    )


@pytest.mark.parametrize(
    "value",
    ["a@b.example", "<a@b.example>", '"Shop" <a@b.example>', "", "   ", "<>, a@b.example"],
)
def test_from_empty_angle_passes_other_from_values(value: str) -> None:
    assert hit(HeaderCheck.FROM_EMPTY_ANGLE, ("From", value), NORMAL_SUBJECT) is None


def test_from_empty_angle_passes_a_message_without_from() -> None:
    assert hit(HeaderCheck.FROM_EMPTY_ANGLE, NORMAL_SUBJECT) is None


def test_from_empty_angle_hits_when_any_of_several_from_fields_is_empty_angles() -> None:
    found = hit(HeaderCheck.FROM_EMPTY_ANGLE, NORMAL_FROM, ("From", '"X" <>'))
    assert found == RuleHit("reject_header", "from_empty_angle", '"X" <>')


@pytest.mark.parametrize("value", ['"Shop <news>" <>', '"<>" <>', "<> (Mail Delivery System)"])
def test_from_empty_angle_hits_with_any_valid_display_name_or_comment(value: str) -> None:
    assert hit(HeaderCheck.FROM_EMPTY_ANGLE, ("From", value)) is not None


# --- from_empty ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", "\t", "\r\n "])
def test_from_empty_hits_a_from_with_nothing_in_it(value: str) -> None:
    assert hit(HeaderCheck.FROM_EMPTY, ("From", value), NORMAL_SUBJECT) == RuleHit(
        "reject_header", "from_empty", value
    )


@pytest.mark.parametrize("value", ["<>", '"Shop" <>', "a@b.example"])
def test_from_empty_passes_a_from_with_something_in_it(value: str) -> None:
    assert hit(HeaderCheck.FROM_EMPTY, ("From", value), NORMAL_SUBJECT) is None


def test_from_empty_passes_a_message_without_from() -> None:
    assert hit(HeaderCheck.FROM_EMPTY, NORMAL_SUBJECT) is None


# --- subject_missing -------------------------------------------------------------------


def test_subject_missing_hits_a_message_without_subject() -> None:
    assert hit(HeaderCheck.SUBJECT_MISSING, NORMAL_FROM) == RuleHit(
        "reject_header", "subject_missing", ""
    )


@pytest.mark.parametrize("header", [("Subject", "Hi"), ("Subject", ""), ("SUBJECT", "Hi")])
def test_subject_missing_passes_a_message_with_a_subject_field(header: tuple[str, str]) -> None:
    assert hit(HeaderCheck.SUBJECT_MISSING, NORMAL_FROM, header) is None


def test_subject_missing_is_not_fooled_by_a_similar_field_name() -> None:
    assert hit(HeaderCheck.SUBJECT_MISSING, NORMAL_FROM, ("X-Subject", "Hi")) is not None


# --- subject_empty ---------------------------------------------------------------------


def test_an_empty_encoded_word_decodes_to_nothing() -> None:
    assert decode_header_text("=?UTF-8?B??=") == ""
    assert decode_header_text("=?ISO-2022-JP?Q??=") == ""


@pytest.mark.parametrize(
    "value", ["", "  ", "\t", "\r\n ", "=?UTF-8?B??=", "=?UTF-8?B?IA==?=", "=?UTF-8?B?44CA?="]
)
def test_subject_empty_hits_a_subject_that_is_empty_once_decoded(value: str) -> None:
    # IA== is one space, 44CA the ideographic space U+3000
    assert hit(HeaderCheck.SUBJECT_EMPTY, NORMAL_FROM, ("Subject", value)) == RuleHit(
        "reject_header", "subject_empty", value
    )


@pytest.mark.parametrize("value", ["Hi", " . ", "=?UTF-8?B?5pyq5om/6Ku+?=", "=?UTF-8?B?invalid"])
def test_subject_empty_passes_a_subject_with_text(value: str) -> None:
    assert hit(HeaderCheck.SUBJECT_EMPTY, NORMAL_FROM, ("Subject", value)) is None


def test_subject_empty_passes_a_message_without_subject() -> None:
    assert hit(HeaderCheck.SUBJECT_EMPTY, NORMAL_FROM) is None


def test_subject_empty_looks_at_the_first_subject_field() -> None:
    assert hit(HeaderCheck.SUBJECT_EMPTY, ("Subject", ""), ("Subject", "Hi")) is not None
    assert hit(HeaderCheck.SUBJECT_EMPTY, ("Subject", "Hi"), ("Subject", "")) is None


# --- on/off and order ------------------------------------------------------------------

ANOMALIES: dict[HeaderCheck, tuple[tuple[str, str], ...]] = {
    HeaderCheck.FROM_MISSING: (NORMAL_SUBJECT,),
    HeaderCheck.FROM_EMPTY_ANGLE: (("From", "<>"), NORMAL_SUBJECT),
    HeaderCheck.FROM_EMPTY: (("From", ""), NORMAL_SUBJECT),
    HeaderCheck.SUBJECT_MISSING: (NORMAL_FROM,),
    HeaderCheck.SUBJECT_EMPTY: (NORMAL_FROM, ("Subject", "")),
}


@pytest.mark.parametrize("check", list(HeaderCheck))
def test_each_anomaly_hits_its_own_check(check: HeaderCheck) -> None:
    found = reject_header.check(policy(check), message(*ANOMALIES[check]))
    assert found is not None
    assert found.rule == "reject_header"
    assert found.entry == check.value


@pytest.mark.parametrize("check", list(HeaderCheck))
def test_a_check_that_is_off_never_hits(check: HeaderCheck) -> None:
    others = [c for c in HeaderCheck if c is not check]
    anomaly = message(*ANOMALIES[check])
    assert reject_header.check(policy(), anomaly) is None
    # every other check is on, and none of them concerns this anomaly
    assert reject_header.check(policy(*others), anomaly) is None


@pytest.mark.parametrize("check", list(HeaderCheck))
def test_a_normal_message_hits_no_check(check: HeaderCheck) -> None:
    assert reject_header.check(policy(check), message(NORMAL_FROM, NORMAL_SUBJECT)) is None


def test_rule_name_is_reject_header() -> None:
    assert reject_header.name == "reject_header"


def test_all_checks_on_and_no_headers_the_from_missing_check_wins() -> None:
    found = reject_header.check(policy(*HeaderCheck), message())
    assert found == RuleHit("reject_header", "from_missing", "")


@pytest.mark.parametrize(
    ("checks", "headers", "expected"),
    [
        (
            (HeaderCheck.SUBJECT_EMPTY, HeaderCheck.FROM_EMPTY_ANGLE),
            (("Subject", ""), ("From", "<>")),
            RuleHit("reject_header", "from_empty_angle", "<>"),
        ),
        (
            (HeaderCheck.FROM_EMPTY, HeaderCheck.FROM_EMPTY_ANGLE),
            (("From", ""), ("From", "<>"), NORMAL_SUBJECT),
            RuleHit("reject_header", "from_empty_angle", "<>"),
        ),
        (
            (HeaderCheck.SUBJECT_MISSING, HeaderCheck.FROM_EMPTY),
            (("From", ""),),
            RuleHit("reject_header", "from_empty", ""),
        ),
        (
            (HeaderCheck.SUBJECT_EMPTY, HeaderCheck.SUBJECT_MISSING, HeaderCheck.FROM_MISSING),
            (),
            RuleHit("reject_header", "from_missing", ""),
        ),
        (
            (HeaderCheck.SUBJECT_EMPTY, HeaderCheck.SUBJECT_MISSING),
            (("From", "<>"),),
            RuleHit("reject_header", "subject_missing", ""),
        ),
    ],
)
def test_with_several_anomalies_the_first_check_in_header_check_order_wins(
    checks: tuple[HeaderCheck, ...], headers: tuple[tuple[str, str], ...], expected: RuleHit
) -> None:
    assert reject_header.check(policy(*checks), message(*headers)) == expected


def test_header_check_order_is_the_guides_order() -> None:
    assert [c.value for c in HeaderCheck] == [
        "from_missing",
        "from_empty_angle",
        "from_empty",
        "subject_missing",
        "subject_empty",
    ]


def test_from_empty_hits_a_from_that_decodes_to_nothing() -> None:
    found = hit(HeaderCheck.FROM_EMPTY, ("From", "=?UTF-8?B??="), NORMAL_SUBJECT)
    assert found is not None
    assert found.entry == "from_empty"
