"""The decision table: the order of checks is data, walked by one loop (SPEC.md precedence).

Each row is a rule module's ``check(policy, message) -> RuleHit | None`` and the action a
hit leads to. The first hit decides; a miss of every row delivers. The allow list comes
first, so an allowed sender is delivered whatever the reject rules say; its decision
still names the allow entry (hit counters, and the spam scan must skip it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sekisho.rules import allow_from, reject_from, reject_header, reject_subject
from sekisho.rules.model import DELIVER, Action, Decision, Message, Policy, RuleHit


@dataclass(frozen=True)
class Row:
    check: Callable[[Policy, Message], RuleHit | None]
    action: Action


DECISION_TABLE: tuple[Row, ...] = (
    Row(allow_from.check, Action.DELIVER),
    Row(reject_from.check, Action.QUARANTINE),
    Row(reject_subject.check, Action.QUARANTINE),
    Row(reject_header.check, Action.QUARANTINE),
)


def decide(policy: Policy, message: Message, table: tuple[Row, ...] = DECISION_TABLE) -> Decision:
    for row in table:
        hit = row.check(policy, message)
        if hit is not None:
            return Decision(row.action, hit)
    return DELIVER
