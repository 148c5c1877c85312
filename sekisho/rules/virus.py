"""ウィルススキャン設定 (docs/features.md §8): an infected mail is removed for a mailbox with the
scan on, and reported to it; this comes before everything, the allow list included."""

from __future__ import annotations

from sekisho.rules.model import Message, Policy, RuleHit, ScanResults

name = "virus"


def check(policy: Policy, _message: Message, scans: ScanResults) -> RuleHit | None:
    if scans.virus is None or not policy.virus_scan:
        return None
    return RuleHit(name, scans.virus, "")


def refuses_submission(submitter: Policy | None, scans: ScanResults) -> bool:
    """Infected mail a customer submits with the scan on is refused, not sent on."""
    return submitter is not None and submitter.virus_scan and scans.virus is not None
