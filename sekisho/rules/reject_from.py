"""From (sender address) reject list: docs/features.md §5.

Both the envelope sender (MAIL FROM) and every header From address are matched: the
header From is what the customer sees and types into the list, the envelope sender is
what bulk senders cannot hide. Either one hitting an entry catches the message.
"""

from __future__ import annotations

from sekisho.rules.model import Message, Policy, RuleHit

name = "reject_from"


def check(policy: Policy, message: Message) -> RuleHit | None:
    matcher = policy.reject_from
    if not len(matcher):
        return None
    for address in (message.sender, *message.header_from_candidates):
        entry = matcher.match(address)
        if entry is not None:
            return RuleHit(name, entry, address)
    return None
