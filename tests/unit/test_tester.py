"""The rule tester's core: a pasted header read as the milter reads one, and each row of the
decision table as decide walked it, with the rows a scan decides told apart."""

from __future__ import annotations

from datetime import date

import pytest

from sekisho.rules.addresses import SuffixMatcher
from sekisho.rules.auto_reply import AutoReply
from sekisho.rules.decide import DECISION_TABLE
from sekisho.rules.model import Action, HeaderCheck, Message, Policy, RuleHit, SpamSetting
from sekisho.rules.tester import RowState, envelope_sender, parse_header, try_message

HIT, MISS, SCAN, NOT_REACHED = RowState.HIT, RowState.MISS, RowState.SCAN, RowState.NOT_REACHED


def states(policy: Policy, headers: str, sender: str = "") -> list[RowState]:
    pasted = parse_header(headers)
    message = Message(envelope_sender(sender, pasted.headers), pasted.headers)
    return [row.state for row in try_message(policy, message, None).rows]


def test_a_pasted_header_keeps_its_fields_raw_and_in_order() -> None:
    pasted = parse_header(
        "\r\nReceived: from a\r\n by b\r\nFrom: =?UTF-8?B?5aSq6YOO?= <t@x.example>\r\n"
        "Subject: 件名\r\n\r\nbody: not a field\r\n"
    )
    assert pasted.headers == (
        ("Received", "from a\n by b"),
        ("From", "=?UTF-8?B?5aSq6YOO?= <t@x.example>"),
        ("Subject", "件名"),
    )
    assert not pasted.stopped_early
    assert parse_header("Subject: a\nnot a field\nFrom: b@c.example\n").stopped_early


def test_the_envelope_sender_defaults_to_the_first_header_from_address() -> None:
    headers = (("From", "A <A@One.example>, b@two.example"),)
    assert envelope_sender("", headers) == "a@one.example"
    assert envelope_sender(" <Bounce@Esp.example> ", headers) == "bounce@esp.example"
    assert envelope_sender("<>", headers) == ""
    assert envelope_sender("", ()) == ""


def test_rows_after_the_deciding_one_are_not_reached() -> None:
    policy = Policy("taro@example.jp", 1, 1, reject_from=SuffixMatcher.build(["bad.example"]))
    assert states(policy, "From: x@bad.example\n") == [MISS, MISS, HIT] + [NOT_REACHED] * 4


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        (SpamSetting(enabled=False), [MISS] * 7),
        (SpamSetting(enabled=True, quarantine=True), [MISS] * 5 + [SCAN, MISS]),
        (SpamSetting(enabled=True, quarantine=False), [MISS] * 5 + [MISS, SCAN]),
    ],
)
def test_the_spam_rows_depend_on_the_scan_only_where_the_setting_uses_a_verdict(
    setting: SpamSetting, expected: list[RowState]
) -> None:
    policy = Policy("taro@example.jp", 1, 1, spam=setting)
    assert states(policy, "From: x@ok.example\nSubject: hi\n") == expected


def test_a_virus_decides_before_the_allow_list_and_the_verdicts_are_decides_own() -> None:
    policy = Policy(
        "taro@example.jp",
        1,
        1,
        allow_from=SuffixMatcher.build(["ok.example"]),
        spam=SpamSetting(enabled=True),
        virus_scan=True,
    )
    message = Message("x@ok.example", (("From", "x@ok.example"),))
    trial = try_message(policy, message, None)
    assert [row.state for row in trial.rows] == [SCAN, HIT] + [NOT_REACHED] * 5
    assert trial.rows[1].hit == RuleHit("allow_from", "ok.example", "x@ok.example")
    assert trial.decision.action is Action.DELIVER
    assert trial.if_virus.action is Action.REMOVE_VIRUS
    assert trial.if_spam.action is Action.DELIVER  # the allow list came first
    assert trial.virus_matters
    assert not trial.spam_matters
    assert [(row.rule, row.action) for row in trial.rows] == [
        (row.rule, row.action) for row in DECISION_TABLE
    ]


def test_a_header_check_hits_on_the_missing_field_and_clean_mail_is_answered() -> None:
    policy = Policy(
        "taro@example.jp",
        1,
        1,
        reject_header=frozenset({HeaderCheck.SUBJECT_MISSING}),
        auto_reply=AutoReply(enabled=True, message="留守にしています。"),
    )
    assert states(policy, "From: x@ok.example\n") == [MISS] * 4 + [HIT] + [NOT_REACHED] * 2
    pasted = parse_header("From: x@ok.example\nTo: taro@example.jp\nSubject: hi\n")
    trial = try_message(policy, Message("x@ok.example", pasted.headers), date(2024, 2, 1))
    assert trial.decision.auto_reply == "留守にしています。"
