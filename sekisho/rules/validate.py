"""Validators for address-list entries (From reject list, later the allow list).

The same functions serve the web form, the CLI and ``settings import``. The 20-lines
limit is the form's: a bulk import passes ``max_lines=None``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sekisho.rules.addresses import normalize_address, split_address
from sekisho.rules.problems import N_, Problem

FORM_MAX_LINES = 20
ENTRY_MAX_CHARS = 320
# RFC 5322 specials that cannot appear unquoted in an address; quoted local parts are
# not accepted in list entries (nobody types them, and they hide look-alike tricks).
_FORBIDDEN = frozenset('<>()[],;:\\"/')
# A domain label in its ASCII (IDNA) form; "_" occurs in real host names.
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")


@dataclass(frozen=True)
class EntryCheck:
    """The result of checking a submission: the clean entries, warnings and problems."""

    entries: tuple[str, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def split_lines(text: str) -> list[tuple[int, str]]:
    """(line number, stripped text) of every non-blank line; blank lines are ignored."""
    return [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip()
    ]


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def check_address_entry(entry: str, line: int | None = None) -> list[Problem]:
    """Problems of one address-list entry on its own (length, characters, shape)."""
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
    existing: Iterable[str] = (),
    max_lines: int | None = FORM_MAX_LINES,
) -> EntryCheck:
    """Check a submission of address entries against each other and the registered ones."""
    if isinstance(text_or_lines, str):
        lines = split_lines(text_or_lines)
    else:
        lines = [(n, s.strip()) for n, s in enumerate(text_or_lines, start=1) if s.strip()]
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if not lines:
        problems.append(Problem(N_("Enter at least one address or domain.")))
    if max_lines is not None and len(lines) > max_lines:
        problems.append(
            Problem(
                N_("At most {limit} lines can be registered at once; you entered {count}."),
                params={"limit": max_lines, "count": len(lines)},
            )
        )
    registered = {normalize_address(e) for e in existing}
    first_line: dict[str, int] = {}
    entries: list[str] = []
    for number, entry in lines:
        own = check_address_entry(entry, number)
        if own:
            problems.extend(own)
            continue
        key = normalize_address(entry)
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
            entries.append(stored_form(entry))
            if "@" not in key and "." not in key:
                warnings.append(
                    Problem(
                        N_(
                            "Line {line}: “{entry}” has no dot, so it blocks every address under "
                            "the top-level domain .{entry}."
                        ),
                        number,
                        entry,
                    )
                )
    return EntryCheck(tuple(entries), tuple(problems), tuple(warnings))


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
