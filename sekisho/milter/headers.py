"""Header values the milter writes. User-registered text never reaches a header raw."""

from __future__ import annotations

import base64
import re
from email.utils import quote

from sekisho.rules.encoded_words import readable
from sekisho.rules.model import RuleHit

QUARANTINE_REASON = "X-Sekisho-Quarantine-Reason"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
# A matched subject can be long; the reason header names it, the copy itself has it all.
_MATCHED_MAX_CHARS = 200
# 45 octets are 60 base64 characters, a 72-character encoded-word: one fits on a line
# of 78 (RFC 2047 §2 allows 75 per word, RFC 5322 recommends 78 per line).
_WORD_OCTETS = 45
_LINE_CHARS = 78


def _quoted(value: str) -> str:
    return '"' + quote(_UNSAFE.sub("", value)) + '"'


def quarantine_reason(hit: RuleHit) -> str:
    """``rule=reject_from; entry="bad.example"; matched="a@bad.example"``.

    A reader decoding the value (RFC 2047) gets exactly that text, whatever the entry
    holds; words that need no encoding stay as they are, so ``rule=`` stays readable to
    a grep.
    """
    text = (
        f"rule={hit.rule}; entry={_quoted(readable(hit.entry))}; "
        f"matched={_quoted(readable(hit.matched)[:_MATCHED_MAX_CHARS])}"
    )
    if not any(_needs_encoding(word) for word in text.split(" ")):
        return text
    return _folded(_rfc2047_tokens(text), len(QUARANTINE_REASON) + 2)


def _needs_encoding(word: str) -> bool:
    # A plain word that looks like an encoded-word would be decoded by the reader.
    return not word.isascii() or "=?" in word


def _rfc2047_tokens(text: str) -> list[str]:
    """``text`` as tokens to be joined by single spaces. Each run of words that needs
    encoding becomes encoded-words holding the run with its inner spaces: the space
    between an encoded-word and a plain word is kept by a decoder, the one between two
    encoded-words dropped (RFC 2047 §6.2), so the decoded value is ``text`` again."""
    runs: list[tuple[bool, list[str]]] = []
    for word in text.split(" "):
        # An empty word (two spaces) stays in its run: between two encoded-words its
        # space would be dropped by the decoder.
        encode = _needs_encoding(word) if word else runs[-1][0]
        if runs and runs[-1][0] == encode:
            runs[-1][1].append(word)
        else:
            runs.append((encode, [word]))
    tokens: list[str] = []
    for encode, words in runs:
        tokens.extend(_encoded_words(" ".join(words)) if encode else words)
    return tokens


def _encoded_words(text: str) -> list[str]:
    """UTF-8 B encoded-words, each holding whole characters (RFC 2047 §5)."""
    chunks = [""]
    for char in text:
        if len((chunks[-1] + char).encode()) > _WORD_OCTETS:
            chunks.append("")
        chunks[-1] += char
    return [f"=?utf-8?b?{base64.b64encode(chunk.encode()).decode('ascii')}?=" for chunk in chunks]


def _folded(tokens: list[str], used: int) -> str:
    """The tokens joined by spaces, a line folded before a token that would make it
    longer than 78 characters (``used``: the field name's share of the first line)."""
    value, width = tokens[0], used + len(tokens[0])
    for token in tokens[1:]:
        # Folding before an empty token would leave a line of white space only.
        fold = bool(token) and width + 1 + len(token) > _LINE_CHARS
        value += ("\n " if fold else " ") + token
        width = (1 if fold else width + 1) + len(token)
    return value
