"""Plain values the core works on: the message, a recipient's policy, the decision."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import getaddresses
from enum import Enum, StrEnum
from functools import cached_property

from sekisho.rules.addresses import EMPTY_MATCHER, SuffixMatcher, normalize_address
from sekisho.rules.auto_reply import OFF as AUTO_REPLY_OFF
from sekisho.rules.auto_reply import AutoReply
from sekisho.rules.encoded_words import decode_header_text
from sekisho.rules.forwarding import NOT_FORWARDED, ForwardPlan, ForwardTarget
from sekisho.rules.sender_auth import NOT_CHECKED, SenderAuth
from sekisho.rules.subjects import EMPTY_SUBSTRING_MATCHER, SubstringMatcher

# Quoted strings and (non-nested) comments of a header may hold anything, "<", ">" and
# text shaped like an address included.
QUOTED_OR_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|\((?:[^()\\]|\\.)*\)', re.DOTALL)
_ADDRESS_SHAPED = re.compile(r'[^\s<>()\[\],;:"@]+@[^\s<>()\[\],;:"@]+')


def _well_formed(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain) and "@" not in local


@dataclass(frozen=True)
class Message:
    """What the core may look at: the envelope and the header fields, in order."""

    sender: str
    headers: tuple[tuple[str, str], ...] = ()

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for field_name, value in self.headers if field_name.lower() == wanted]

    @cached_property
    def subjects(self) -> tuple[str, ...]:
        """Every Subject field as a reader sees it (RFC 2047 and raw 8-bit decoded)."""
        return tuple(decode_header_text(value) for value in self.header_values("Subject"))

    @property
    def message_id(self) -> str:
        """The first Message-ID field as it came, "" without one."""
        found = self.header_values("Message-ID")
        return found[0].strip() if found else ""

    @property
    def subject(self) -> str:
        """The first Subject: the one mail programs show."""
        return self.subjects[0] if self.subjects else ""

    @cached_property
    def _from_fields(self) -> tuple[tuple[tuple[str, ...], frozenset[str], bool], ...]:
        """Per From field: its parsed addresses, the address-shaped texts in it, and
        whether the parser returned only well-formed addresses."""
        fields = []
        for value in self.header_values("From"):
            parsed = [normalize_address(address) for _, address in getaddresses([value])]
            valid = tuple(a for a in parsed if _well_formed(a))
            shaped = frozenset(
                normalize_address(found)
                for found in _ADDRESS_SHAPED.findall(QUOTED_OR_COMMENT.sub(" ", value))
            )
            fields.append((valid, shaped, bool(parsed) and len(valid) == len(parsed)))
        return tuple(fields)

    @cached_property
    def header_from_addresses(self) -> tuple[str, ...]:
        """Every well-formed address the From fields parse into, normalised."""
        return tuple(a for valid, _, _ in self._from_fields for a in valid)

    @cached_property
    def header_from_candidates(self) -> tuple[str, ...]:
        """The parsed addresses plus every address-shaped text outside quotes and comments:
        a broken field (``a@bad.example b@ok.example``) that the parser mangles still
        shows the reject list every address in it."""
        shaped = (a for _, found, _ in self._from_fields for a in sorted(found))
        return tuple(dict.fromkeys((*self.header_from_addresses, *shaped)))

    @cached_property
    def header_from_is_clean(self) -> bool:
        """Every From field parsed into well-formed addresses and nothing address-shaped
        was lost on the way: only then may the allow list trust the From."""
        fields = self._from_fields
        return bool(fields) and all(clean and found <= set(valid) for valid, found, clean in fields)


class HeaderCheck(StrEnum):
    """The five header reject checkboxes of docs/features.md §5, in the guide's order."""

    FROM_MISSING = "from_missing"
    FROM_EMPTY_ANGLE = "from_empty_angle"
    FROM_EMPTY = "from_empty"
    SUBJECT_MISSING = "subject_missing"
    SUBJECT_EMPTY = "subject_empty"


@dataclass(frozen=True)
class SpamSetting:
    """迷惑メールスキャン設定 (docs/features.md §9): scan on/off; quarantine, or deliver tagged
    ``[spam]``; a notice mail for each quarantined one. Off until the owner turns it on."""

    enabled: bool = False
    quarantine: bool = True
    notify: bool = False


@dataclass(frozen=True)
class Policy:
    """A recipient's rules at one settings version: the snapshot the milter caches."""

    address: str
    account_id: int
    version: int
    reject_from: SuffixMatcher = field(default=EMPTY_MATCHER)
    reject_subject: SubstringMatcher = field(default=EMPTY_SUBSTRING_MATCHER)
    reject_header: frozenset[HeaderCheck] = frozenset()
    allow_from: SuffixMatcher = field(default=EMPTY_MATCHER)
    spam: SpamSetting = field(default_factory=SpamSetting)
    # ウィルススキャン設定: infected mail to this mailbox is removed and reported, and
    # infected mail it submits is refused.
    virus_scan: bool = False
    forward_to: tuple[ForwardTarget, ...] = ()
    auto_reply: AutoReply = AUTO_REPLY_OFF
    # 国外からのメール送信制限 lifted until then (None: 制限中); see sekisho.rules.abroad.
    abroad_unlocked_until: datetime | None = None


class Action(Enum):
    DELIVER = "deliver"
    QUARANTINE = "quarantine"
    TAG = "tag"  # delivered with ``[spam] `` before the subject
    REMOVE_VIRUS = "virus"  # removed from the message and reported


@dataclass(frozen=True)
class RuleHit:
    """Which rule caught the message, by which registered entry, on which value."""

    rule: str
    entry: str
    matched: str


@dataclass(frozen=True)
class SpamVerdict:
    """What the spam engine said of the whole message."""

    is_spam: bool
    score: float
    threshold: float
    engine: str
    auth: SenderAuth = NOT_CHECKED  # what it found of the sender's DMARC, SPF and DKIM


@dataclass(frozen=True)
class ScanResults:
    """What the scans of a message found; a scan not run found nothing."""

    virus_scanned: bool = False
    virus: str | None = None  # the virus clamd named, None when clean or not scanned
    spam: SpamVerdict | None = None  # None: not scanned, or the scan failed
    # False before the scans (end of headers, the rule tester): the rows that depend on
    # them cannot be told yet, and the allow list is taken at its word.
    complete: bool = False
    # The operator's choice for an allow-listed sender whose authentication could not
    # be checked (no engine answer, no DNS): let the allow list apply, or not.
    trust_unchecked_senders: bool = True

    @property
    def sender_auth(self) -> SenderAuth:
        return self.spam.auth if self.spam is not None else NOT_CHECKED

    @property
    def clean(self) -> bool:
        """Known not to be spam and found no virus: the only mail an auto-reply answers."""
        return self.spam is not None and not self.spam.is_spam and self.virus is None


NOT_SCANNED = ScanResults()


@dataclass(frozen=True)
class RowResult:
    """One row of the decision table as it was walked: its rule and what it found."""

    rule: str
    hit: RuleHit | None


@dataclass(frozen=True)
class Decision:
    """Everything that happens to one recipient's copy of a message.

    ``action`` and ``hit`` come from the first row of the decision table that hit;
    ``forward`` and ``auto_reply`` apply to a copy that is delivered. ``trace`` records
    the rows walked, hit or miss, up to the one that decided.
    """

    action: Action
    hit: RuleHit | None = None
    forward: ForwardPlan = NOT_FORWARDED
    auto_reply: str | None = None  # the text to answer with, None for no reply
    # An allow list entry the From matched, not applied because the sender is not
    # authenticated (受信ログ says so).
    unverified_allow: RuleHit | None = None
    trace: tuple[RowResult, ...] = field(default=(), compare=False)

    @property
    def quarantined(self) -> bool:
        return self.action is Action.QUARANTINE

    @property
    def delivered(self) -> bool:
        """The recipient keeps a copy of the message (forwarding aside)."""
        return self.action in (Action.DELIVER, Action.TAG)

    @property
    def allowed(self) -> bool:
        """Delivered because of the allow list: later scans (spam) must not catch it."""
        return self.action is Action.DELIVER and self.hit is not None


DELIVER = Decision(Action.DELIVER)
