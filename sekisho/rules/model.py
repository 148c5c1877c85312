"""Plain values the core works on: the message, a recipient's policy, the decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.utils import getaddresses
from enum import Enum
from functools import cached_property

from sekisho.rules.addresses import EMPTY_MATCHER, SuffixMatcher, normalize_address


@dataclass(frozen=True)
class Message:
    """What the core may look at: the envelope and the header fields, in order."""

    sender: str
    headers: tuple[tuple[str, str], ...] = ()

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [value for field_name, value in self.headers if field_name.lower() == wanted]

    @property
    def subject(self) -> str:
        values = self.header_values("Subject")
        return decode_subject(values[0]) if values else ""

    @cached_property
    def header_from_addresses(self) -> tuple[str, ...]:
        """Every address of every From field, normalised (empty ones dropped)."""
        pairs = getaddresses(self.header_values("From"))
        return tuple(a for a in (normalize_address(addr) for _, addr in pairs) if a)


@dataclass(frozen=True)
class Policy:
    """A recipient's rules at one settings version: the snapshot the milter caches."""

    address: str
    account_id: int
    version: int
    reject_from: SuffixMatcher = field(default=EMPTY_MATCHER)


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


DELIVER = Decision(Action.DELIVER)


def decode_subject(raw: str) -> str:
    """The Subject as a reader sees it (RFC 2047 decoded); undecodable parts kept raw."""
    try:
        return str(make_header(decode_header(raw)))
    except (ValueError, LookupError, UnicodeDecodeError):
        return raw
