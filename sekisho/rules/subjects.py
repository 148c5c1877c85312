"""Subject (件名) reject list: entry rules and the substring matcher of docs/features.md §5.

An entry matches every subject that contains it. Both sides are compared in one form:
NFKC (full-width Latin and half-width katakana folded, as a Japanese IME types them),
case-folded and with runs of white space made one space, so 「ｗｉｎ　ＢＩＧ」 in a subject
is caught by the entry ``win big``. One Aho-Corasick automaton per policy snapshot finds
the entries in a subject in time linear in the subject, whatever the number of entries.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from sekisho.rules.problems import N_, Problem
from sekisho.rules.validate import (
    FORM_MAX_LINES,
    EntryCheck,
    ListEntry,
    ListRules,
    check_entries,
    length_or_control_problems,
)

SUBJECT_MIN_CHARS = 2


def subject_key(text: str) -> str:
    """The form in which entries and subjects are compared."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _is_half_width_katakana(char: str) -> bool:
    return "\uff61" <= char <= "\uff9f"


def check_subject_entry(entry: str, line: int | None = None) -> list[Problem]:
    """Problems of one Subject entry on its own: length, control characters, ｶﾅ."""
    if len(entry) < SUBJECT_MIN_CHARS:
        return [
            Problem(
                N_("Line {line}: “{entry}” is too short; enter at least {limit} characters."),
                line,
                entry,
                {"limit": SUBJECT_MIN_CHARS},
            )
        ]
    shared = length_or_control_problems(entry, line)
    if shared:
        return shared
    katakana = "".join(dict.fromkeys(c for c in entry if _is_half_width_katakana(c)))
    if katakana:
        return [
            Problem(
                N_(
                    "Line {line}: “{entry}” contains half-width katakana ({found}); "
                    "enter them full-width ({suggestion})."
                ),
                line,
                entry,
                # The whole entry converted: a voiced mark (ﾞ) belongs to the kana before it.
                {"found": katakana, "suggestion": unicodedata.normalize("NFKC", entry)},
            )
        ]
    return []


SUBJECT_RULES = ListRules(
    check_one=check_subject_entry,
    stored_form=lambda entry: entry.strip(),
    match_key=subject_key,
    nothing_entered=N_("Enter at least one subject."),
)


def check_subject_entries(
    text_or_lines: str | Sequence[str],
    registered: Container[str] = frozenset(),
    max_lines: int | None = FORM_MAX_LINES,
) -> EntryCheck:
    """Check a submission of Subject entries; ``registered`` holds keys (subject_key)."""
    return check_entries(text_or_lines, SUBJECT_RULES, registered, max_lines)


@dataclass(frozen=True, eq=False)
class SubstringMatcher:
    """Finds the first registered entry contained in a subject.

    Equal only to itself: two automatons cannot be compared by content cheaply.
    """

    size: int
    automaton: Any = field(default=None, repr=False)

    @classmethod
    def build(cls, entries: Iterable[ListEntry]) -> SubstringMatcher:
        automaton = ahocorasick.Automaton()
        size = 0
        for entry in entries:
            if entry.key:
                automaton.add_word(entry.key, entry.value)
                size += 1
        if not size:
            return EMPTY_SUBSTRING_MATCHER
        automaton.make_automaton()
        return cls(size, automaton)

    def __len__(self) -> int:
        return self.size

    def match(self, subject: str) -> str | None:
        """The entry found in ``subject`` (decoded text), or None."""
        if not self.size:
            return None
        for _end, value in self.automaton.iter(subject_key(subject)):
            return str(value)
        return None


EMPTY_SUBSTRING_MATCHER = SubstringMatcher(0)
