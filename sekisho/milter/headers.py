"""Header values the milter writes. User-registered text never reaches a header raw."""

from __future__ import annotations

import re
from email.header import Header
from email.utils import quote

from sekisho.rules.encoded_words import readable
from sekisho.rules.model import RuleHit

QUARANTINE_REASON = "X-Sekisho-Quarantine-Reason"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
# A matched subject can be long; the reason header names it, the copy itself has it all.
_MATCHED_MAX_CHARS = 200


def _quoted(value: str) -> str:
    return '"' + quote(_UNSAFE.sub("", value)) + '"'


def quarantine_reason(hit: RuleHit) -> str:
    """``rule=reject_from; entry="bad.example"; matched="a@bad.example"``.

    Non-ASCII values become RFC 2047 words of their own, so ``rule=`` stays readable
    to a grep and a decoding reader sees the whole text.
    """
    parts = [
        f"rule={hit.rule}; entry=",
        _quoted(readable(hit.entry)),
        "; matched=",
        _quoted(readable(hit.matched)[:_MATCHED_MAX_CHARS]),
    ]
    if all(part.isascii() for part in parts):
        return "".join(parts)
    header = Header()
    for part in parts:
        header.append(part, "us-ascii" if part.isascii() else "utf-8")
    return header.encode()
