"""Validators for list entries: the rules every list shares, and address entries.

The same functions serve the web form, the CLI and ``settings import``. The 20-lines
limit is the form's: a bulk import passes ``max_lines=None``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sekisho.rules.addresses import normalize_address, split_address
from sekisho.rules.problems import N_, Problem

FORM_MAX_LINES = 20
ENTRY_MAX_CHARS = 320
# RFC 5322 specials that cannot appear unquoted in an address; quoted local parts are
# not accepted in list entries (nobody types them, and they hide look-alike tricks).
_FORBIDDEN = frozenset('<>()[],;:\\"/')
# A domain label in its ASCII (IDNA) form; "_" occurs in real host names.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")


class ListEntry(NamedTuple):
    """An entry as it is stored and shown, and the key that matching compares."""

    value: str
    key: str


@dataclass(frozen=True)
class EntryCheck:
    """The result of checking a submission: the clean entries, warnings and problems."""

    entries: tuple[ListEntry, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(entry.value for entry in self.entries)


def split_lines(text: str) -> list[tuple[int, str]]:
    """(line number, stripped text) of every non-blank line; blank lines are ignored.

    Only CR and LF end a line, as in the textarea: str.splitlines would also split at
    form feeds, U+2028 and other separators, hiding them from the control-character check.
    """
    return [
        (number, line.strip())
        for number, line in enumerate(_LINE_BREAK.split(text), start=1)
        if line.strip()
    ]


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def length_or_control_problems(entry: str, line: int | None) -> list[Problem]:
    """The checks every list shares: at most 320 characters, no control character."""
    if len(entry) > ENTRY_MAX_CHARS:
        return [
            Problem(
                N_(
                    "Line {line}: “{entry}” is {length} characters long; "
                    "at most {limit} are allowed."
                ),
                line,
                _shorten(entry),
                {"length": len(entry), "limit": ENTRY_MAX_CHARS},
            )
        ]
    if any(_is_control(c) for c in entry):
        return [
            Problem(
                N_("Line {line}: “{entry}” contains a control character."), line, _printable(entry)
            )
        ]
    return []


def check_address_entry(entry: str, line: int | None = None) -> list[Problem]:
    """Problems of one address-list entry on its own (length, characters, shape)."""
    shared = length_or_control_problems(entry, line)
    if shared:
        return shared
    if any(c.isspace() for c in entry):
        return [
            Problem(
                N_("Line {line}: “{entry}” contains a space; enter one address per line."),
                line,
                entry,
            )
        ]
    if any(c in _FORBIDDEN for c in entry):
        return [
            Problem(
                N_(
                    "Line {line}: “{entry}” contains a character that cannot be part of an address."
                ),
                line,
                entry,
            )
        ]
    if "*" in entry:
        return [
            Problem(
                N_(
                    "Line {line}: “{entry}”: no “*” is needed; a domain (example.com) already "
                    "covers all its subdomains."
                ),
                line,
                entry,
            )
        ]
    key = normalize_address(entry)
    if key.count("@") > 1:
        return [Problem(N_("Line {line}: “{entry}” contains more than one “@”."), line, entry)]
    _, domain = split_address(key)
    if "@" in key and not domain:
        return [
            Problem(
                N_(
                    "Line {line}: “{entry}” is a local part alone and would never match; "
                    "add the domain (taro@example.com) or enter the domain only (example.com)."
                ),
                line,
                entry,
            )
        ]
    name = domain if "@" in key else key
    if not name or not all(_LABEL.match(label) for label in name.split(".")):
        return [
            Problem(N_("Line {line}: “{entry}” is not a valid domain or address."), line, entry)
        ]
    return []


def check_address_entries(
    text_or_lines: str | Sequence[str],
    registered: Container[str] = frozenset(),
    max_lines: int | None = FORM_MAX_LINES,
) -> EntryCheck:
    """Check a submission of address entries (From reject list, allow list).

    ``registered`` holds the match keys (normalize_address) already on the list.
    """
    return check_entries(
        text_or_lines,
        ListRules(
            check_one=check_address_entry,
            stored_form=stored_form,
            match_key=normalize_address,
            nothing_entered=N_("Enter at least one address or domain."),
            warn=_tld_warning,
        ),
        registered,
        max_lines,
    )


@dataclass(frozen=True)
class ListRules:
    """What differs between lists: one entry's own problems, its stored and matched forms."""

    check_one: Callable[[str, int | None], list[Problem]]
    stored_form: Callable[[str], str]
    match_key: Callable[[str], str]
    nothing_entered: str
    warn: Callable[[str, str, int], Problem | None] = lambda _entry, _key, _line: None


def check_entries(
    text_or_lines: str | Sequence[str],
    rules: ListRules,
    registered: Container[str] = frozenset(),
    max_lines: int | None = FORM_MAX_LINES,
) -> EntryCheck:
    """Check a submission against itself and the registered keys: the rules every list shares.

    Nothing is half-accepted: the caller saves ``entries`` only when ``problems`` is empty.
    """
    if isinstance(text_or_lines, str):
        lines = split_lines(text_or_lines)
    else:
        lines = [(n, s.strip()) for n, s in enumerate(text_or_lines, start=1) if s.strip()]
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if not lines:
        problems.append(Problem(rules.nothing_entered))
    if max_lines is not None and len(lines) > max_lines:
        problems.append(
            Problem(
                N_("At most {limit} lines can be registered at once; you entered {count}."),
                params={"limit": max_lines, "count": len(lines)},
            )
        )
    first_line: dict[str, int] = {}
    entries: list[ListEntry] = []
    for number, entry in lines:
        own = rules.check_one(entry, number)
        if own:
            problems.extend(own)
            continue
        value = rules.stored_form(entry)
        key = rules.match_key(value)
        if key in registered:
            problems.append(
                Problem(N_("Line {line}: “{entry}” is already registered."), number, entry)
            )
        elif key in first_line:
            problems.append(
                Problem(
                    N_("Line {line}: “{entry}” repeats line {first}."),
                    number,
                    entry,
                    {"first": first_line[key]},
                )
            )
        else:
            first_line[key] = number
            entries.append(ListEntry(value, key))
            warning = rules.warn(entry, key, number)
            if warning is not None:
                warnings.append(warning)
    return EntryCheck(tuple(entries), tuple(problems), tuple(warnings))


def _tld_warning(entry: str, key: str, line: int) -> Problem | None:
    if "@" in key or "." in key:
        return None
    return Problem(
        N_(
            "Line {line}: “{entry}” has no dot, so it blocks every address under "
            "the top-level domain .{entry}."
        ),
        line,
        entry,
    )


def stored_form(entry: str) -> str:
    """How an entry is kept and shown: as typed, but width-folded and lower-cased.

    Matching always goes through normalize_address, so ``例え.jp`` is listed as typed and
    still matches mail for ``xn--r8jz45g.jp``.
    """
    return unicodedata.normalize("NFKC", entry).strip().lower().rstrip(".")


def _shorten(entry: str) -> str:
    return entry if len(entry) <= 40 else entry[:37] + "…"


def _printable(entry: str) -> str:
    return "".join("�" if _is_control(c) else c for c in _shorten(entry))
