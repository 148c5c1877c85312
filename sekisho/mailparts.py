"""Pieces of the mail sekisho writes itself (notices, reports, auto-replies)."""

from __future__ import annotations

from email.charset import Charset
from email.mime.text import MIMEText

# UTF-8 text as it is (8bit): the mail stays readable in a Maildir and to any tool.
_UTF8_8BIT = Charset("utf-8")
_UTF8_8BIT.body_encoding = None  # type: ignore[assignment]  # None: 8bit, as documented


def utf8_text(text: str) -> MIMEText:
    """A text/plain part in UTF-8, 8bit."""
    return MIMEText(text, "plain", _UTF8_8BIT)  # type: ignore[arg-type]  # takes a Charset
