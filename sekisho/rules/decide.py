"""The decision table: the order of checks is data, walked by one loop (SPEC.md precedence).

Each row is a rule module with ``name`` and ``check(policy, message) -> RuleHit | None``
and the action a hit leads to. The first hit decides; a miss of every row delivers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sekisho.rules import reject_from
from sekisho.rules.model import DELIVER, Action, Decision, Message, Policy, RuleHit


@dataclass(frozen=True)
class Row:
    name: str
    check: Callable[[Policy, Message], RuleHit | None]
    action: Action


DECISION_TABLE: tuple[Row, ...] = (Row(reject_from.name, reject_from.check, Action.QUARANTINE),)


def decide(policy: Policy, message: Message, table: tuple[Row, ...] = DECISION_TABLE) -> Decision:
    for row in table:
        hit = row.check(policy, message)
        if hit is not None:
            return Decision(row.action, hit)
    return DELIVER
