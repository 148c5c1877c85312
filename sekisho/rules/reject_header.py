"""Header reject settings (ヘッダー受信拒否設定): the five checkboxes of docs/features.md §5.

- ``from_missing``: no From field at all;
- ``from_empty_angle``: a From field holding no address but ``<>`` (``From: <>``, also
  with a display name: ``From: "Shop" <>``);
- ``from_empty``: a From field with nothing in it once decoded (``From:``);
- ``subject_missing``: no Subject field at all;
- ``subject_empty``: a Subject field that is empty once decoded (``Subject:``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sekisho.rules.encoded_words import decode_header_text
from sekisho.rules.model import QUOTED_OR_COMMENT, HeaderCheck, Message, Policy, RuleHit

name = "reject_header"

_EMPTY_ANGLE = re.compile(r"[^<>]*<\s*>\s*", re.DOTALL)


def _from_missing(message: Message) -> str | None:
    return None if message.header_values("From") else ""


def _from_empty_angle(message: Message) -> str | None:
    values = message.header_values("From")
    return next((v for v in values if _EMPTY_ANGLE.fullmatch(QUOTED_OR_COMMENT.sub("", v))), None)


def _from_empty(message: Message) -> str | None:
    values = message.header_values("From")
    return next((v for v in values if not decode_header_text(v).strip()), None)


def _subject_missing(message: Message) -> str | None:
    return None if message.header_values("Subject") else ""


def _subject_empty(message: Message) -> str | None:
    values = message.header_values("Subject")
    return values[0] if values and not message.subject.strip() else None


# Each test returns the offending value ("" for a missing field), or None when it passes.
_TESTS: dict[HeaderCheck, Callable[[Message], str | None]] = {
    HeaderCheck.FROM_MISSING: _from_missing,
    HeaderCheck.FROM_EMPTY_ANGLE: _from_empty_angle,
    HeaderCheck.FROM_EMPTY: _from_empty,
    HeaderCheck.SUBJECT_MISSING: _subject_missing,
    HeaderCheck.SUBJECT_EMPTY: _subject_empty,
}


def check(policy: Policy, message: Message) -> RuleHit | None:
    if not policy.reject_header:
        return None
    for header_check in HeaderCheck:
        if header_check in policy.reject_header:
            found = _TESTS[header_check](message)
            if found is not None:
                return RuleHit(name, header_check.value, found)
    return None
