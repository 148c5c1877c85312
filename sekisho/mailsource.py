"""A quarantined copy's header and source as text (「ヘッダーとソースを表示」), and its header
fields for the allow list (「受信箱へ戻して送信者を許可」).

The source is shown as it was received: bytes decoded the way the milter decodes header
text (sekisho.rules.encoded_words), nothing parsed into parts, nothing rendered. A spam
mail can be megabytes of attachment, so only its beginning is read, cut at a line end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sekisho.rules.encoded_words import readable
from sekisho.rules.tester import HEADER_MAX_BYTES, parse_header

SOURCE_MAX_BYTES = 256 * 1024
# Control characters but tab and line feed: escaping for HTML keeps them, and a browser
# shows them as nothing at all (an ESC of raw ISO-2022-JP is decoded away before this).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Source:
    text: str
    size: int  # of the whole copy, in bytes
    truncated: bool


def read_source(path: Path, limit: int = SOURCE_MAX_BYTES) -> Source:
    with path.open("rb") as handle:
        raw = handle.read(limit + 1)
        size = path.stat().st_size
    truncated = len(raw) > limit
    if truncated:
        # At a line end, so no character is cut in half (a broken one would make the
        # whole text fall back to a wrong charset).
        kept = raw[:limit]
        raw = kept[: kept.rfind(b"\n") + 1] or kept
    text = readable(raw.replace(b"\r\n", b"\n").decode("utf-8", "surrogateescape"))
    return Source(_CONTROL.sub("\ufffd", text), size, truncated)


def header_fields(path: Path) -> tuple[tuple[str, str], ...]:
    """The copy's header fields as the milter saw them (raw bytes surrogate-escaped)."""
    with path.open("rb") as handle:
        head = handle.read(HEADER_MAX_BYTES)
    return parse_header(head.decode("utf-8", "surrogateescape")).headers
