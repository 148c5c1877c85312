"""Pieces of the mail sekisho writes itself (notices, reports, auto-replies)."""

from __future__ import annotations

from email.charset import BASE64, Charset
from email.mime.text import MIMEText

# RFC 5322 §2.1.1: a line is at most 998 octets; a longer one gets broken on its way
# (Postfix at line_length_limit), perhaps in the middle of a UTF-8 character.
MAX_LINE_OCTETS = 998
# UTF-8 text as it is (8bit): the mail stays readable in a Maildir and to any tool.
_UTF8_8BIT = Charset("utf-8")
_UTF8_8BIT.body_encoding = None  # type: ignore[assignment]  # None: 8bit, as documented
_UTF8_BASE64 = Charset("utf-8")
_UTF8_BASE64.body_encoding = BASE64


def utf8_text(text: str) -> MIMEText:
    """A text/plain part in UTF-8: 8bit, or base64 when a line would be too long."""
    too_long = any(len(line.encode()) > MAX_LINE_OCTETS for line in text.splitlines())
    return MIMEText(text, "plain", _UTF8_BASE64 if too_long else _UTF8_8BIT)  # type: ignore[arg-type]  # takes a Charset
