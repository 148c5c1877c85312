"""The decision table: the order of checks is data, walked by one loop.

Each row is a rule's ``check(policy, message, scans) -> RuleHit | None`` and the action a
hit leads to. The first hit decides and a miss of every row delivers; every row walked
is recorded, hit or miss (the logs and the rule tester show it). In order of precedence:

1. a virus, for a mailbox with the virus scan on: removed and reported, whatever else;
2. the allow list (受信許可設定), for an authenticated sender: delivered, the reject rules
   and the spam scan skipped;
3. the reject rules (From, Subject, header checks): into the spam folder;
4. spam: into the spam folder, or delivered tagged ``[spam]``, as the mailbox chose.

A copy that is delivered is then forwarded (転送設定) and answered (自動返信設定): the
answer only to mail scanned and found clean, so spam never draws a reply.

Before the body has arrived (end of headers) the same table is walked without scan
results: the scan rows miss, and what is left decides which scans the message needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from sekisho.rules import allow_from, reject_from, reject_header, reject_subject, spam, virus
from sekisho.rules.auto_reply import refusal
from sekisho.rules.forwarding import FORWARD_TRACE, NOT_FORWARDED, forward_plan, forward_trace
from sekisho.rules.model import (
    NOT_SCANNED,
    Action,
    Decision,
    Message,
    Policy,
    RowResult,
    RuleHit,
    ScanResults,
)

Check = Callable[[Policy, Message, ScanResults], RuleHit | None]


@dataclass(frozen=True)
class Row:
    rule: str
    check: Check
    action: Action


def _on_headers(check: Callable[[Policy, Message], RuleHit | None]) -> Check:
    """A rule that looks at the message alone, as a row."""
    return lambda policy, message, _scans: check(policy, message)


DECISION_TABLE: tuple[Row, ...] = (
    Row(virus.name, virus.check, Action.REMOVE_VIRUS),
    Row(allow_from.name, allow_from.check_authenticated, Action.DELIVER),
    Row(reject_from.name, _on_headers(reject_from.check), Action.QUARANTINE),
    Row(reject_subject.name, _on_headers(reject_subject.check), Action.QUARANTINE),
    Row(reject_header.name, _on_headers(reject_header.check), Action.QUARANTINE),
    Row(spam.name, spam.check_quarantine, Action.QUARANTINE),
    Row(spam.name, spam.check_tag, Action.TAG),
)


def decide(
    policy: Policy,
    message: Message,
    table: tuple[Row, ...] = DECISION_TABLE,
    scans: ScanResults = NOT_SCANNED,
    today: date | None = None,
    trace_key: bytes = b"",
) -> Decision:
    """One recipient's decision. ``today`` (Japan's calendar) is when an auto-reply would
    be sent; None asks for no auto-reply. ``trace_key`` signs the forwarding trace."""
    walked: list[RowResult] = []
    action, decided_by = Action.DELIVER, None
    for row in table:
        hit = row.check(policy, message, scans)
        walked.append(RowResult(row.rule, hit))
        if hit is not None:
            action, decided_by = row.action, hit
            break
    delivered = action in (Action.DELIVER, Action.TAG)
    allowed = action is Action.DELIVER and decided_by is not None
    return Decision(
        action,
        decided_by,
        forward=forward_plan(policy.address, policy.forward_to, _trace(message, trace_key))
        if delivered
        else NOT_FORWARDED,
        auto_reply=_reply_text(policy, message, today) if delivered and scans.clean else None,
        unverified_allow=None if allowed else allow_from.unverified(policy, message, scans),
        trace=tuple(walked),
    )


def decide_with_scans(
    policy: Policy,
    message: Message,
    first: Decision,
    scans: ScanResults,
    today: date | None,
    trace_key: bytes = b"",
) -> Decision:
    """The decision once the scans are in (end of message). ``first`` is decide's answer
    at end of headers for the same policy and message (no scans, no ``today``): when
    nothing the scans found concerns this mailbox it is the answer again, row for row, and
    its lists are not walked a second time."""
    if _unchanged_by(policy, message, first, scans, today):
        return first
    return decide(policy, message, scans=scans, today=today, trace_key=trace_key)


def _unchanged_by(
    policy: Policy, message: Message, first: Decision, scans: ScanResults, today: date | None
) -> bool:
    """Whether decide with ``scans`` and ``today`` repeats ``first``. Only these read them:
    the virus row (a virus, for a mailbox with the scan on); the allow row and the
    unverified entry (the sender's authentication, but only for a From an entry matches,
    and before the scans such an entry decided: ``first.allowed``); the spam rows (spam,
    for a mailbox with the scan on); the auto-reply (only to mail scanned clean)."""
    if scans.virus is not None and policy.virus_scan:
        return False
    if first.allowed:
        return False
    verdict = scans.spam
    if verdict is not None and verdict.is_spam and policy.spam.enabled:
        return False
    return not (scans.clean and first.delivered and answers(policy, message, today))


def answers(policy: Policy, message: Message, today: date | None) -> bool:
    """Whether the mailbox's 自動返信設定 answers this mail if it turns out clean."""
    return _reply_text(policy, message, today) is not None


def _reply_text(policy: Policy, message: Message, today: date | None) -> str | None:
    setting = policy.auto_reply
    if today is None or not setting.active_on(today):
        return None
    if refusal(policy.address, message.sender, message.headers) is not None:
        return None
    # Chosen by the envelope sender, where the reply goes: a forged From never gets
    # another sender's text.
    return setting.text_for([message.sender])


def _trace(message: Message, key: bytes) -> frozenset[str]:
    return forward_trace(message.header_values(FORWARD_TRACE), message.message_id, key)


@dataclass(frozen=True)
class ScanPlan:
    """The scans a message needs: only those whose result can change an outcome."""

    virus: bool = False
    spam: bool = False
    # Some recipient's delivery depends on the spam verdict (not only an auto-reply):
    # a failed spam scan then defers the message unless the operator chose to deliver.
    spam_decides_delivery: bool = False

    @property
    def any(self) -> bool:
        return self.virus or self.spam


def plan_scans(
    recipients: Sequence[tuple[Policy | None, Decision | None]],
    submitter: Policy | None,
    replying: bool,
) -> ScanPlan:
    """From the decisions taken without scan results (end of headers)."""
    policies = [policy for policy, _ in recipients] + [submitter]
    spam_decides = any(spam.needs_scan(policy, decision) for policy, decision in recipients)
    # An allow list entry applies only to an authenticated sender: the spam engine says.
    allowing = any(decision is not None and decision.allowed for _, decision in recipients)
    return ScanPlan(
        virus=any(policy is not None and policy.virus_scan for policy in policies),
        # An auto-reply to spam is backscatter under the ISP's name: a mailbox that
        # answers gets its mail scanned even with its own spam scan off.
        spam=spam_decides or replying or allowing,
        spam_decides_delivery=spam_decides,
    )
