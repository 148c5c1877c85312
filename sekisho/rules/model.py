"""Plain values the core works on: the message, a recipient's policy, the decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.utils import getaddresses
from enum import Enum, StrEnum
from functools import cached_property

from sekisho.rules.addresses import EMPTY_MATCHER, SuffixMatcher, normalize_address
from sekisho.rules.encoded_words import decode_header_text
from sekisho.rules.subjects import EMPTY_SUBSTRING_MATCHER, SubstringMatcher


@dataclass(frozen=True)
class Message:
    """What the core may look at: the envelope and the header fields, in order."""

    sender: str
    headers: tuple[tuple[str, str], ...] = ()

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for field_name, value in self.headers if field_name.lower() == wanted]

    @cached_property
    def subject(self) -> str:
        """The first Subject as a reader sees it (RFC 2047 and raw 8-bit decoded)."""
        values = self.header_values("Subject")
        return decode_header_text(values[0]) if values else ""

    @cached_property
    def header_from_addresses(self) -> tuple[str, ...]:
        """Every address of every From field, normalised (empty ones dropped)."""
        pairs = getaddresses(self.header_values("From"))
        return tuple(a for a in (normalize_address(addr) for _, addr in pairs) if a)


class HeaderCheck(StrEnum):
    """The five header reject checkboxes of SPEC.md §5, in the guide's order."""

    FROM_MISSING = "from_missing"
    FROM_EMPTY_ANGLE = "from_empty_angle"
    FROM_EMPTY = "from_empty"
    SUBJECT_MISSING = "subject_missing"
    SUBJECT_EMPTY = "subject_empty"


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


class Action(Enum):
    DELIVER = "deliver"
    QUARANTINE = "quarantine"


@dataclass(frozen=True)
class RuleHit:
    """Which rule caught the message, by which registered entry, on which value."""

    rule: str
    entry: str
    matched: str


@dataclass(frozen=True)
class Decision:
    action: Action
    hit: RuleHit | None = None

    @property
    def quarantined(self) -> bool:
        return self.action is Action.QUARANTINE

    @property
    def allowed(self) -> bool:
        """Delivered because of the allow list: later scans (spam) must not catch it."""
        return self.action is Action.DELIVER and self.hit is not None


DELIVER = Decision(Action.DELIVER)
