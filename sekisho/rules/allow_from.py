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

Anyone can write any From, so an entry applies only when the spam engine found the From
domain authenticated (sekisho.rules.sender_auth): DMARC, or DKIM or SPF aligned. When it
could not tell (no answer, no DNS), the operator's setting decides (allow by default).
"""

from __future__ import annotations

from sekisho.rules.addresses import split_address
from sekisho.rules.model import Message, Policy, RuleHit, ScanResults
from sekisho.rules.sender_auth import authenticated

name = "allow_from"
# 受信ログ's name for an entry the From matched but that was not applied (not authenticated).
unverified_name = "allow_from_unverified"


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


def check_authenticated(policy: Policy, message: Message, scans: ScanResults) -> RuleHit | None:
    """The allow list's row: an entry applies only to a sender the spam engine found
    authenticated (before the scans, it is taken at its word)."""
    hit = check(policy, message)
    if hit is None or not scans.complete:
        return hit
    return hit if _trusted(message, scans) else None


def unverified(policy: Policy, message: Message, scans: ScanResults) -> RuleHit | None:
    """The entry the From matched when it was not applied for want of authentication."""
    if not scans.complete or not len(policy.allow_from):
        return None
    hit = check(policy, message)
    return None if hit is None or _trusted(message, scans) else hit


def _trusted(message: Message, scans: ScanResults) -> bool:
    domains = [split_address(address)[1] for address in message.header_from_addresses]
    found = authenticated(scans.sender_auth, domains, message.sender)
    return found if found is not None else scans.trust_unchecked_senders
