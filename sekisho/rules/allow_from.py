"""Allow list (受信許可設定): docs/features.md §6. An allowed sender skips the reject rules
and spam.

Only the header From is matched, not the envelope sender. The header From is the sender
the customer's mail program shows, so it is the address they copy into the list; the
envelope sender of a newsletter or mailing list is a bounce address they never see. An
exception should be as narrow as the customer meant it: matching the envelope sender
too would let any message whose bounce address happens to be allowed pass the reject
list whatever its From says. When a From field names several addresses, every one of
them must be allowed; a message without a header From, or with one the parser had to
guess at (``a@bad.example b@ok.example``, ``<>, b@ok.example``), is never allowed.
"""

from __future__ import annotations

from sekisho.rules.model import Message, Policy, RuleHit

name = "allow_from"


def check(policy: Policy, message: Message) -> RuleHit | None:
    if not len(policy.allow_from):
        return None  # before parsing From: most mailboxes have no allow list
    if not message.header_from_is_clean:
        return None  # a From the parser had to guess at is no ground for an exception
    addresses = message.header_from_addresses
    entries = [policy.allow_from.match(address) for address in addresses]
    if None in entries:
        return None
    return RuleHit(name, str(entries[0]), addresses[0])
