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


# Raw 8-bit header bytes seen in Japanese mail, most specific first (ISO-2022-JP is 7-bit
# and arrives as valid text). Header values reach us with undecodable bytes kept as
# surrogate escapes.
_RAW_HEADER_CHARSETS = ("utf-8", "shift_jis", "euc-jp")


def readable(text: str) -> str:
    """Text safe to store and show: raw 8-bit bytes decoded as Japanese mail usually is."""
    data = text.encode("utf-8", "surrogateescape")
    for charset in _RAW_HEADER_CHARSETS:
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", "replace")


def decode_subject(raw: str) -> str:
    """The Subject as a reader sees it: raw bytes and RFC 2047 encoded-words decoded."""
    text = readable(raw)
    try:
        return str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeDecodeError):
        return text
