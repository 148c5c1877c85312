"""The three entry lists a mailbox owner edits, and what differs between them.

The name of a list is the name of the rule it feeds (RuleHit.rule), and the key of its
entries in the store.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass

from sekisho.rules import allow_from, reject_from, reject_subject
from sekisho.rules.addresses import normalize_address
from sekisho.rules.subjects import check_subject_entries, subject_key
from sekisho.rules.validate import FORM_MAX_LINES, EntryCheck, check_address_entries

Checker = Callable[[str | Sequence[str], Container[str], int | None], EntryCheck]


@dataclass(frozen=True)
class ListKind:
    name: str
    match_key: Callable[[str], str]
    check: Checker

    def check_entries(
        self,
        text_or_lines: str | Sequence[str],
        registered: Container[str] = frozenset(),
        max_lines: int | None = FORM_MAX_LINES,
    ) -> EntryCheck:
        return self.check(text_or_lines, registered, max_lines)


REJECT_FROM = ListKind(reject_from.name, normalize_address, check_address_entries)
REJECT_SUBJECT = ListKind(reject_subject.name, subject_key, check_subject_entries)
ALLOW_FROM = ListKind(allow_from.name, normalize_address, check_address_entries)
LIST_KINDS = {kind.name: kind for kind in (REJECT_FROM, REJECT_SUBJECT, ALLOW_FROM)}
