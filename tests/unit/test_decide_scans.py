"""The whole decision of one recipient: the scan rows of the table, what a delivered copy
gets (forwarding, auto-reply), the record of rows walked, and which scans are needed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from itertools import product
from typing import Any

import pytest

from sekisho.rules.addresses import SuffixMatcher
from sekisho.rules.auto_reply import AutoReply
from sekisho.rules.decide import decide, decide_with_scans, plan_scans
from sekisho.rules.forwarding import FORWARD_TRACE, ForwardTarget, trace_value
from sekisho.rules.model import (
    Action,
    Message,
    Policy,
    RowResult,
    RuleHit,
    ScanResults,
    SpamSetting,
    SpamVerdict,
)
from sekisho.rules.sender_auth import Check, SenderAuth, from_rspamd, from_spamd
from tests.unit.test_decide import subjects

TODAY = date(2026, 12, 4)
SPAM = SpamVerdict(is_spam=True, score=12.5, threshold=6.0, engine="rspamd")
HAM = SpamVerdict(is_spam=False, score=0.5, threshold=6.0, engine="rspamd")
HEADERS = (("From", "friend@ok.example"), ("To", "taro@example.jp"), ("Subject", "hello"))
MESSAGE = Message("friend@ok.example", HEADERS)


def mailbox(**settings: Any) -> Policy:
    return Policy("taro@example.jp", 1, 1, **settings)


def test_a_virus_is_removed_even_for_an_allowed_sender() -> None:
    policy = mailbox(virus_scan=True, allow_from=SuffixMatcher.build(["ok.example"]))
    scans = ScanResults(virus_scanned=True, virus="Eicar-Signature")
    decision = decide(policy, MESSAGE, scans=scans)
    assert decision.action is Action.REMOVE_VIRUS
    assert decision.hit == RuleHit("virus", "Eicar-Signature", "")
    assert decision.trace == (RowResult("virus", decision.hit),)


def test_a_virus_is_delivered_to_a_mailbox_without_the_scan() -> None:
    scans = ScanResults(virus_scanned=True, virus="Eicar-Signature")
    assert decide(mailbox(), MESSAGE, scans=scans).action is Action.DELIVER


@pytest.mark.parametrize(("quarantine", "action"), [(True, Action.QUARANTINE), (False, Action.TAG)])
def test_spam_goes_where_the_mailbox_chose(quarantine: bool, action: Action) -> None:
    policy = mailbox(spam=SpamSetting(enabled=True, quarantine=quarantine))
    decision = decide(policy, MESSAGE, scans=ScanResults(spam=SPAM))
    assert decision.action is action
    assert decision.hit == RuleHit("spam", "12.5 / 6.0", "rspamd")


def test_spam_is_not_caught_with_the_scan_off() -> None:
    assert decide(mailbox(), MESSAGE, scans=ScanResults(spam=SPAM)).action is Action.DELIVER


def test_the_allow_list_skips_the_spam_scan_and_the_trace_says_why() -> None:
    policy = mailbox(spam=SpamSetting(enabled=True), allow_from=SuffixMatcher.build(["ok.example"]))
    decision = decide(policy, MESSAGE, scans=ScanResults(spam=SPAM))
    assert decision.allowed
    assert [(row.rule, row.hit is not None) for row in decision.trace] == [
        ("virus", False),
        ("allow_from", True),
    ]


def test_every_row_is_recorded_as_a_miss_when_nothing_catches() -> None:
    decision = decide(mailbox(), MESSAGE, scans=ScanResults(spam=HAM))
    assert decision.action is Action.DELIVER
    assert [row.rule for row in decision.trace] == [
        "virus",
        "allow_from",
        "reject_from",
        "reject_subject",
        "reject_header",
        "spam",
        "spam",
    ]
    assert all(row.hit is None for row in decision.trace)


FORWARDING = (ForwardTarget("hanako@example.net", keep=False),)


def test_a_delivered_copy_is_forwarded() -> None:
    decision = decide(mailbox(forward_to=FORWARDING), MESSAGE)
    assert decision.forward.targets == ("hanako@example.net",)
    assert not decision.forward.keep_mailbox


def test_a_quarantined_copy_is_not_forwarded() -> None:
    policy = mailbox(forward_to=FORWARDING, reject_from=SuffixMatcher.build(["ok.example"]))
    assert decide(policy, MESSAGE).forward.targets == ()


def test_a_copy_this_mailbox_forwarded_before_is_not_forwarded_again() -> None:
    trace = trace_value("taro@example.jp", "", b"key")
    message = Message(MESSAGE.sender, (*HEADERS, (FORWARD_TRACE, trace)))
    decision = decide(mailbox(forward_to=FORWARDING), message, trace_key=b"key")
    assert decision.forward.targets == ()
    forged = decide(mailbox(forward_to=FORWARDING), message, trace_key=b"another key")
    assert forged.forward.targets == ("hanako@example.net",)


ANSWERING = AutoReply(enabled=True, message="Away until Monday")


def test_clean_mail_is_answered() -> None:
    decision = decide(
        mailbox(auto_reply=ANSWERING), MESSAGE, scans=ScanResults(spam=HAM), today=TODAY
    )
    assert decision.auto_reply == "Away until Monday"


@pytest.mark.parametrize(
    "scans",
    [
        ScanResults(),  # not scanned: never known to be clean
        ScanResults(spam=SPAM),
        ScanResults(virus_scanned=True, virus="Eicar-Signature", spam=HAM),
    ],
)
def test_mail_not_known_clean_is_not_answered(scans: ScanResults) -> None:
    decision = decide(mailbox(auto_reply=ANSWERING), MESSAGE, scans=scans, today=TODAY)
    assert decision.auto_reply is None


def test_the_scan_plan_asks_only_for_scans_that_change_an_outcome() -> None:
    plain = mailbox()
    assert not plan_scans([(plain, decide(plain, MESSAGE))], None, replying=False).any
    spam_on = mailbox(spam=SpamSetting(enabled=True))
    plan = plan_scans([(spam_on, decide(spam_on, MESSAGE))], None, replying=False)
    assert plan.spam
    assert plan.spam_decides_delivery
    assert not plan.virus
    answering = plan_scans([(plain, decide(plain, MESSAGE))], None, replying=True)
    assert answering.spam
    assert not answering.spam_decides_delivery
    submitter = mailbox(virus_scan=True)
    assert plan_scans([(None, None)], submitter, replying=False).virus


def test_an_allowed_sender_is_scanned_for_its_authentication_only() -> None:
    policy = mailbox(spam=SpamSetting(enabled=True), allow_from=SuffixMatcher.build(["ok.example"]))
    plan = plan_scans([(policy, decide(policy, MESSAGE))], None, replying=False)
    assert plan.spam
    assert not plan.spam_decides_delivery  # a failed scan leaves it to the operator's setting


ALLOWING = mailbox(allow_from=SuffixMatcher.build(["ok.example"]), reject_subject=subjects("hello"))


def scanned(auth: SenderAuth, trust_unchecked: bool = True) -> ScanResults:
    return ScanResults(
        spam=SpamVerdict(False, 0.5, 6.0, "rspamd", auth),
        complete=True,
        trust_unchecked_senders=trust_unchecked,
    )


@pytest.mark.parametrize(
    "auth",
    [
        SenderAuth(dmarc=Check.PASS),
        SenderAuth(dkim_domains=frozenset({"ok.example"})),
        SenderAuth(dkim_domains=frozenset({"mail.ok.example"})),
        SenderAuth(dkim_author_aligned=True),
        SenderAuth(spf=Check.PASS),  # the envelope sender is friend@ok.example
    ],
)
def test_an_authenticated_sender_is_allowed(auth: SenderAuth) -> None:
    decision = decide(ALLOWING, MESSAGE, scans=scanned(auth))
    assert decision.allowed
    assert decision.unverified_allow is None


@pytest.mark.parametrize(
    "auth",
    [
        SenderAuth(dmarc=Check.FAIL),
        SenderAuth(spf=Check.FAIL),
        SenderAuth(dkim_failed=True, dkim_domains=frozenset({"esp.example"})),
    ],
)
def test_a_forged_sender_is_not_allowed_and_the_decision_says_why(auth: SenderAuth) -> None:
    decision = decide(ALLOWING, MESSAGE, scans=scanned(auth))
    assert decision.quarantined  # the subject rule the allow entry would have lifted
    assert decision.unverified_allow == RuleHit("allow_from", "ok.example", "friend@ok.example")


def test_an_aligned_signature_of_another_domain_does_not_count() -> None:
    signed_elsewhere = SenderAuth(dkim_domains=frozenset({"esp.example"}), spf=Check.PASS)
    message = Message("bounce@esp.example", HEADERS)
    assert decide(ALLOWING, message, scans=scanned(signed_elsewhere)).quarantined


@pytest.mark.parametrize(("trust", "allowed"), [(True, True), (False, False)])
def test_an_unchecked_sender_is_left_to_the_operators_setting(trust: bool, allowed: bool) -> None:
    decision = decide(ALLOWING, MESSAGE, scans=scanned(SenderAuth(), trust_unchecked=trust))
    assert decision.allowed is allowed
    failed_scan = ScanResults(complete=True, trust_unchecked_senders=trust)
    assert decide(ALLOWING, MESSAGE, scans=failed_scan).allowed is allowed


def test_before_the_scans_the_allow_list_is_taken_at_its_word() -> None:
    assert decide(ALLOWING, MESSAGE).allowed


def test_engine_symbols_are_read_into_checks() -> None:
    rspamd = from_rspamd(
        {"DMARC_POLICY_REJECT": [], "R_SPF_ALLOW": [], "R_DKIM_ALLOW": ["Ok.Example:s=sel"]}
    )
    assert rspamd == SenderAuth(Check.FAIL, Check.PASS, frozenset({"ok.example"}))
    spamd = from_spamd(["SPF_SOFTFAIL", "DKIM_VALID_AU", "BAYES_00"])
    assert spamd == SenderAuth(spf=Check.FAIL, dkim_author_aligned=True)


def test_the_first_decision_stands_exactly_when_the_scans_change_nothing() -> None:
    """decide_with_scans reuses the end-of-headers decision only where deciding again
    would give the same one, row for row: every combination of a mailbox's settings and
    what the scans found."""
    virus = ("Eicar-Signature", None)
    verdicts = (None, HAM, SPAM, replace(HAM, auth=SenderAuth(dmarc=Check.PASS)))
    spam_settings = (SpamSetting(), SpamSetting(enabled=True), SpamSetting(True, False))
    lists = (SuffixMatcher.build([]), SuffixMatcher.build(["ok.example"]))
    reused = 0
    for scan_virus, verdict, trust, spam_setting, allow, reject, on, reply in product(
        virus, verdicts, (True, False), spam_settings, lists, lists, (True, False), (True, False)
    ):
        policy = mailbox(
            virus_scan=on,
            spam=spam_setting,
            allow_from=allow,
            reject_from=reject,
            forward_to=FORWARDING,
            auto_reply=ANSWERING if reply else AutoReply(),
        )
        scans = ScanResults(
            virus_scanned=True,
            virus=scan_virus,
            spam=verdict,
            complete=True,
            trust_unchecked_senders=trust,
        )
        first = decide(policy, MESSAGE, trace_key=b"key")
        again = decide(policy, MESSAGE, scans=scans, today=TODAY, trace_key=b"key")
        final = decide_with_scans(policy, MESSAGE, first, scans, TODAY, b"key")
        assert (final, final.trace) == (again, again.trace), (policy, scans)
        reused += final is first
    assert reused > 0
    no_scan = ScanResults(complete=True)  # a message only the rules caught or forwarded
    first = decide(mailbox(reject_from=lists[1]), MESSAGE)
    assert decide_with_scans(mailbox(reject_from=lists[1]), MESSAGE, first, no_scan, TODAY) is first
