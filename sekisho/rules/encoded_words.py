"""Header field values as a reader sees them, decoded the way Japanese mail needs.

Postfix hands the milter header values as they were sent: folded, with raw 8-bit bytes
(surrogate-escaped in the str), raw 7-bit ISO-2022-JP, and RFC 2047 encoded-words.
``email.header`` fails on much of what Japanese mailers really send: Windows characters
(①, ㈱, 髙) in words labelled ISO-2022-JP or Shift_JIS, a double-byte character split
across two encoded-words, one broken word taking the whole value down with it. Rules
that match on a Subject need the text despite all that, and this module never raises.
"""

from __future__ import annotations

import base64
import binascii
import re
from contextlib import suppress

_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ENCODED_WORD = re.compile(
    # encoded-text is printable ASCII without "?"; "*lang" is the RFC 2231 language suffix
    r"=\?(?P<charset>[^?*\s]+)(?:\*[^?\s]*)?\?(?P<encoding>[BbQq])\?(?P<text>[!->@-~]*)\?="
)
_JIS_ESCAPE = re.compile(rb"(\x1b(?:\$[@B]|\([BIJ]))")

# Text labelled Shift_JIS, EUC-JP or ISO-2022-JP often holds Windows or JIS X 0213
# characters beyond that standard, so each label tries the supersets in use.
_CHARSETS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("shift-jis", "sjis", "x-sjis", "windows-31j", "cp932", "ms932"), ("cp932",)),
    # euc_jp for JIS X 0212 (3-byte 0x8F) codes, whose rows EUC-JIS-2004 leaves unused
    **dict.fromkeys(("euc-jp", "x-euc-jp", "eucjp"), ("euc_jis_2004", "euc_jp")),
    "iso-2022-jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2", "iso2022_jp_2004"),
    # Raw 8-bit header bytes (RFC 1428's label). EUC-JP goes before cp932: EUC-JP text
    # is nearly always valid, garbled cp932 (お知らせ reads as ､ｪﾃﾎ､鬢ｻ), while real
    # Shift_JIS text nearly never survives a strict EUC-JP decode.
    "unknown-8bit": ("utf-8", "euc_jis_2004", "euc_jp", "cp932"),
}


def decode_header_text(raw: str) -> str:
    """The header field value ``raw`` unfolded and decoded, whitespace otherwise untouched.

    Adjacent encoded-words in one charset are decoded as one byte string, so a character
    split across two words survives; whitespace between encoded-words is dropped (RFC 2047
    §6.2). A word whose payload cannot be recovered stays as its literal text.
    """
    text = readable(_FOLD.sub("", raw))
    out: list[str] = []
    run_charset, run_data = "", bytearray()
    pos = 0
    for word in _ENCODED_WORD.finditer(text):
        data = _payload(word["encoding"], word["text"])
        if data is None:
            continue
        gap, pos = text[pos : word.start()], word.end()
        charset = word["charset"].lower().replace("_", "-")
        adjacent = bool(run_charset) and not gap.strip()
        if adjacent and charset == run_charset:
            run_data += data
            continue
        if run_charset:
            out.append(_decode(bytes(run_data), run_charset))
        if not adjacent:
            out.append(gap)
        run_charset, run_data = charset, bytearray(data)
    if run_charset:
        out.append(_decode(bytes(run_data), run_charset))
    out.append(text[pos:])
    return "".join(out)


def readable(text: str) -> str:
    """``text`` with its raw bytes decoded; encoded-words, being ASCII, pass unchanged."""
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no undecodable byte produced
        data = text.encode("utf-8", "replace")
    return _decode(data, "iso-2022-jp" if b"\x1b" in data else "unknown-8bit")


def _payload(encoding: str, text: str) -> bytes | None:
    """The octets an encoded-word carries, or None when they cannot be recovered."""
    if encoding in "Qq":
        return binascii.a2b_qp(text, header=True)
    text = text.rstrip("=")  # mailers drop or overdo the padding; only the data counts
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        return None


def _decode(data: bytes, label: str) -> str:
    """``data`` in the charset ``label``: strict candidates first, then a lossy last resort."""
    candidates = _CHARSETS.get(label, (label,))
    for codec in candidates:
        with suppress(LookupError, UnicodeDecodeError):
            return data.decode(codec)
    if label == "iso-2022-jp":
        return _windows_iso_2022_jp(data)
    with suppress(LookupError):
        return data.decode(candidates[0], "replace")
    return data.decode("utf-8", "replace")


def _windows_iso_2022_jp(data: bytes) -> str:
    """ISO-2022-JP as Windows writes it (code page 50221): JIS codes read through cp932.

    That is what gives NEC special characters (①, ㈱) and NEC-selected IBM kanji (髙)
    in ``ESC $ B`` text their meaning; a code still undefined becomes U+FFFD alone.
    """
    chunks = _JIS_ESCAPE.split(data)
    text: list[str] = []
    # split() alternates text and escape: each escape sets the mode of the text after it
    for escape, chunk in zip((b"\x1b(B", *chunks[1::2]), chunks[::2], strict=True):
        if escape.startswith(b"\x1b$"):
            text += [_jis_char(chunk[i : i + 2]) for i in range(0, len(chunk), 2)]
        elif escape == b"\x1b(I":
            text.append(bytes(byte | 0x80 for byte in chunk).decode("cp932", "replace"))
        else:  # cp932, not ASCII: Shift_JIS mislabelled ISO-2022-JP then still reads
            text.append(chunk.decode("cp932", "replace"))
    return "".join(text)


def _jis_char(pair: bytes) -> str:
    """One two-byte JIS code, moved to its Shift_JIS position arithmetically."""
    if len(pair) != 2 or not all(0x21 <= byte <= 0x7E for byte in pair):
        return "\ufffd"
    first, second = pair
    lead = (first + 1) // 2 + (0x70 if first < 0x5F else 0xB0)
    trail = second + (0x7E if first % 2 == 0 else 0x1F if second < 0x60 else 0x20)
    try:
        return bytes((lead, trail)).decode("cp932")
    except UnicodeDecodeError:
        return "\ufffd"
