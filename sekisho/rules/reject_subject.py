"""Subject (件名) reject list: SPEC.md §5. An entry contained in the decoded subject hits."""

from __future__ import annotations

from sekisho.rules.model import Message, Policy, RuleHit

name = "reject_subject"


def check(policy: Policy, message: Message) -> RuleHit | None:
    if not len(policy.reject_subject):
        return None
    subject = message.subject
    entry = policy.reject_subject.match(subject)
    return None if entry is None else RuleHit(name, entry, subject)
