"""Subject (件名) reject list: docs/features.md §5. An entry contained in the decoded subject hits.

Every Subject field is searched, not only the first that mail programs show: a second
Subject must not be a way around the list.
"""

from __future__ import annotations

from sekisho.rules.model import Message, Policy, RuleHit

name = "reject_subject"


def check(policy: Policy, message: Message) -> RuleHit | None:
    if not len(policy.reject_subject):
        return None
    for subject in message.subjects:
        entry = policy.reject_subject.match(subject)
        if entry is not None:
            return RuleHit(name, entry, subject)
    return None
