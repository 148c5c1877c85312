"""What the spam verdict means for one recipient (SPEC.md §9).

- scan off → delivered untouched, never scanned for this recipient;
- an allowed sender, or a mail the reject rules already quarantined → no spam verdict;
- scan on, spam, quarantine on → into the recipient's spam folder;
- scan on, spam, quarantine off → delivered with ``[spam] `` before the subject.
The tag is the one difference in content between recipients. When only some recipients
of a message get it, they get a tagged copy of their own (sekisho.milter.tagged_copy).
"""

from __future__ import annotations

from enum import Enum

from sekisho.rules.model import Decision, Policy, RuleHit

name = "spam"
SUBJECT_TAG = "[spam] "


class SpamAction(Enum):
    NONE = "none"
    QUARANTINE = "quarantine"
    TAG = "tag"


def needs_scan(policy: Policy | None, decision: Decision | None) -> bool:
    """Whether this recipient's outcome depends on the verdict."""
    if policy is None or decision is None or not policy.spam.enabled:
        return False
    return not decision.quarantined and not decision.allowed


def spam_action(policy: Policy, decision: Decision, is_spam: bool) -> SpamAction:
    if not is_spam or not needs_scan(policy, decision):
        return SpamAction.NONE
    return SpamAction.QUARANTINE if policy.spam.quarantine else SpamAction.TAG


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
