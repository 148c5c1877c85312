"""What the spam verdict means for one recipient (docs/features.md §9).

- scan off → delivered untouched, never scanned for this recipient;
- an allowed sender, or a mail the reject rules already quarantined → no spam verdict;
- scan on, spam, quarantine on → into the recipient's spam folder;
- scan on, spam, quarantine off → delivered with ``[spam] `` before the subject.
The tag is the one difference in content between recipients. When only some recipients
of a message get it, they get a tagged copy of their own (sekisho.milter.tagged_copy).
"""

from __future__ import annotations

from sekisho.rules.model import Decision, Message, Policy, RuleHit, ScanResults

name = "spam"
SUBJECT_TAG = "[spam] "


def needs_scan(policy: Policy | None, decision: Decision | None) -> bool:
    """Whether this recipient's outcome depends on the verdict (``decision``: the rules'
    before any scan)."""
    if policy is None or decision is None or not policy.spam.enabled:
        return False
    return not decision.quarantined and not decision.allowed


def check_quarantine(policy: Policy, _message: Message, scans: ScanResults) -> RuleHit | None:
    """Spam for a mailbox whose spam goes to its spam folder."""
    return _spam_hit_for(policy, scans) if policy.spam.quarantine else None


def check_tag(policy: Policy, _message: Message, scans: ScanResults) -> RuleHit | None:
    """Spam for a mailbox that takes it tagged in the inbox."""
    return None if policy.spam.quarantine else _spam_hit_for(policy, scans)


def _spam_hit_for(policy: Policy, scans: ScanResults) -> RuleHit | None:
    verdict = scans.spam
    if verdict is None or not verdict.is_spam or not policy.spam.enabled:
        return None
    return spam_hit(verdict.score, verdict.threshold, verdict.engine)


def announced(policy: Policy, hit: RuleHit) -> bool:
    """隔離メール通知 covers what the spam scan quarantined: mail caught by the owner's own
    reject lists is what they asked never to see, so it is not announced."""
    return policy.spam.notify and hit.rule == name


def spam_hit(score: float, threshold: float, engine: str) -> RuleHit:
    """The reason a spam copy carries: the score against the engine's threshold."""
    return RuleHit(name, f"{score:.1f} / {threshold:.1f}", engine)


def tagged(subject: str) -> str:
    """The subject with the tag once, however often the mail passes (a reply, a forward)."""
    return subject if subject.startswith(SUBJECT_TAG) else SUBJECT_TAG + subject
