"""Header values the milter writes. User-registered text never reaches a header raw."""

from __future__ import annotations

import re
from email.header import Header
from email.utils import quote

from sekisho.rules.encoded_words import readable
from sekisho.rules.model import RuleHit

QUARANTINE_REASON = "X-Sekisho-Quarantine-Reason"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def _quoted(value: str) -> str:
    return '"' + quote(_UNSAFE.sub("", value)) + '"'


def quarantine_reason(hit: RuleHit) -> str:
    """``rule=reject_from; entry="bad.example"; matched="a@bad.example"`` (RFC 2047 if needed)."""
    entry, matched = readable(hit.entry), readable(hit.matched)
    text = f"rule={hit.rule}; entry={_quoted(entry)}; matched={_quoted(matched)}"
    if text.isascii():
        return text
    return Header(text, "utf-8").encode()
