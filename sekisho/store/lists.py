"""The entry lists (From reject, Subject reject, allow): read a page, add, delete, replace.

Entries arrive validated by sekisho.rules (ListEntry: value and match key). Every change
bumps the account's settings version in the same transaction, so the milters reload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select, union, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from sekisho.rules.lists import ListKind
from sekisho.rules.validate import EntryCheck, ListEntry
from sekisho.store.accounts import bump_settings_version
from sekisho.store.models import ListEntryRecord
from sekisho.store.paging import PER_PAGE, Page, page_of_rows

# Bound parameters per statement: SQLite's limit is 32766, older builds' 999.
_CHUNK = 500
_LAST_CODE_POINT = "\U0010ffff"


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _of(account_id: int, kind: ListKind) -> ColumnElement[bool]:
    return (ListEntryRecord.account_id == account_id) & (ListEntryRecord.kind == kind.name)


def page_of(
    session: Session,
    account_id: int,
    kind: ListKind,
    number: int = 1,
    per_page: int = PER_PAGE,
    search: str = "",
) -> Page[ListEntryRecord]:
    """One page of a list, oldest entry first, optionally only the entries found by a
    search text: those whose key begins or ends with the text's key (what matching
    compares, so ＨＥＬＬＯ finds hello and 例え.jp finds xn--….jp): ``taro@`` finds
    taro@ at any domain, ``bad.example`` every address and domain under bad.example.
    Both are ranges of an index, fast however long the list (bench/list_pages.py)."""
    condition = _of(account_id, kind)
    key = kind.match_key(search) if search else ""
    if key:
        # The ids from each index, then their rows: asked for "entries of this list by
        # id", SQLite walks the whole list in id order and tests each row instead.
        found = union(
            select(ListEntryRecord.id).where(condition, _beginning(ListEntryRecord.match_key, key)),
            select(ListEntryRecord.id).where(
                condition, _beginning(ListEntryRecord.reversed_key, key[::-1])
            ),
        )
        condition = ListEntryRecord.id.in_(found)
    statement = select(ListEntryRecord).where(condition).order_by(ListEntryRecord.id)
    return page_of_rows(session, statement, number, per_page)


def _beginning(column: InstrumentedAttribute[str], prefix: str) -> ColumnElement[bool]:
    # Every text beginning with ``prefix`` sorts from it to it followed by the last code
    # point (code point order: sekisho.store.models.SEARCH_KEY).
    return (column >= prefix) & (column < prefix + _LAST_CODE_POINT)


def count_and_last_id(session: Session, account_id: int, kind: ListKind) -> tuple[int, int]:
    row = session.execute(
        select(func.count(), func.coalesce(func.max(ListEntryRecord.id), 0)).where(
            _of(account_id, kind)
        )
    ).one()
    return int(row[0]), int(row[1])


def values(session: Session, account_id: int, kind: ListKind) -> list[str]:
    return list(
        session.scalars(
            select(ListEntryRecord.value).where(_of(account_id, kind)).order_by(ListEntryRecord.id)
        )
    )


def export_rows(
    session: Session, account_id: int, kind: ListKind
) -> list[tuple[str, int, datetime | None]]:
    """(value, hits, last hit) of every entry, oldest first: the CSV download."""
    rows = session.execute(
        select(ListEntryRecord.value, ListEntryRecord.hit_count, ListEntryRecord.last_hit_at)
        .where(_of(account_id, kind))
        .order_by(ListEntryRecord.id)
    )
    return [(value, hits, last) for value, hits, last in rows]


def match_pairs(session: Session, account_id: int, kind: ListKind) -> list[tuple[str, str]]:
    """(match key, value) of every entry: what a policy snapshot's matcher is built from."""
    # In id order: SQLite then walks the (account, kind, id) index, the table's own order;
    # unordered it chose the reversed-key index and read the table at random (100,000
    # entries: 227 ms against 87).
    rows = session.execute(
        select(ListEntryRecord.match_key, ListEntryRecord.value)
        .where(_of(account_id, kind))
        .order_by(ListEntryRecord.id)
    )
    return [(key, value) for key, value in rows]


def registered_keys(
    session: Session, account_id: int, kind: ListKind, keys: Iterable[str]
) -> set[str]:
    """Which of ``keys`` (match keys) are on the list already."""
    digests = {key_digest(key): key for key in keys}
    wanted = list(digests)
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        found.update(
            session.scalars(
                select(ListEntryRecord.key_digest).where(
                    _of(account_id, kind),
                    ListEntryRecord.key_digest.in_(wanted[start : start + _CHUNK]),
                )
            )
        )
    return {digests[digest] for digest in found}


def check_against_list(
    session: Session,
    account_id: int,
    kind: ListKind,
    text_or_lines: str | Sequence[str],
    max_lines: int | None,
) -> EntryCheck:
    """The list's entry rules, plus "already registered" for keys on the stored list."""
    first = kind.check_entries(text_or_lines, max_lines=max_lines)
    registered = registered_keys(session, account_id, kind, (e.key for e in first.entries))
    return kind.check_entries(text_or_lines, registered, max_lines) if registered else first


def entries_by_ids(
    session: Session, account_id: int, kind: ListKind, ids: Sequence[int]
) -> list[ListEntryRecord]:
    return list(
        session.scalars(
            select(ListEntryRecord)
            .where(_of(account_id, kind), ListEntryRecord.id.in_(list(ids)))
            .order_by(ListEntryRecord.id)
        )
    )


def add_entries(
    session: Session, account_id: int, kind: ListKind, entries: Iterable[ListEntry]
) -> int:
    rows = [
        ListEntryRecord(
            account_id=account_id,
            kind=kind.name,
            value=entry.value,
            match_key=entry.key,
            reversed_key=entry.key[::-1],
            key_digest=key_digest(entry.key),
            hit_count=0,
        )
        for entry in entries
    ]
    session.add_all(rows)
    bump_settings_version(session, account_id)
    session.flush()
    return len(rows)


def add_values(session: Session, account_id: int, kind: ListKind, texts: Sequence[str]) -> int:
    """Check ``texts`` as an import does (no line limit) and add them, or raise ValueError."""
    check = check_against_list(session, account_id, kind, texts, max_lines=None)
    if not check.ok:
        raise ValueError("; ".join(problem.render() for problem in check.problems))
    return add_entries(session, account_id, kind, check.entries)


def delete_entries(session: Session, account_id: int, kind: ListKind, ids: Sequence[int]) -> int:
    """Delete the given entries; ids already gone (a form posted twice) are no error."""
    result = session.execute(
        delete(ListEntryRecord).where(_of(account_id, kind), ListEntryRecord.id.in_(list(ids)))
    )
    bump_settings_version(session, account_id)
    return int(result.rowcount)  # type: ignore[attr-defined]


def delete_up_to(session: Session, account_id: int, kind: ListKind, last_id: int) -> int:
    """「全て削除」: every entry that existed when the owner confirmed (id ≤ ``last_id``).

    On PostgreSQL an entry added in the same milliseconds as the confirmation, by another
    tab or node, may hold a lower id than one committed before it and go too.
    """
    result = session.execute(
        delete(ListEntryRecord).where(_of(account_id, kind), ListEntryRecord.id <= last_id)
    )
    bump_settings_version(session, account_id)
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Replacement:
    """What replacing a list with new entries does, compared as matching compares."""

    added: list[str]
    removed: list[str]
    respelled: list[tuple[int, str]]  # kept entries (id) that take the new spelling


def replacement(
    session: Session, account_id: int, kind: ListKind, entries: Iterable[ListEntry]
) -> Replacement:
    wanted = {key_digest(entry.key): entry for entry in entries}
    current = {
        digest: (entry_id, value)
        for digest, entry_id, value in session.execute(
            select(ListEntryRecord.key_digest, ListEntryRecord.id, ListEntryRecord.value)
            .where(_of(account_id, kind))
            .order_by(ListEntryRecord.id)
        )
    }
    return Replacement(
        added=[entry.value for digest, entry in wanted.items() if digest not in current],
        removed=[value for digest, (_, value) in current.items() if digest not in wanted],
        respelled=[
            (entry_id, wanted[digest].value)
            for digest, (entry_id, value) in current.items()
            if digest in wanted and wanted[digest].value != value
        ],
    )


def replace_entries(
    session: Session, account_id: int, kind: ListKind, entries: Sequence[ListEntry]
) -> Replacement:
    """Make the list exactly ``entries`` (import): kept entries keep their hit counters and
    take the spelling given."""
    change = replacement(session, account_id, kind, entries)
    removed = set(change.removed)
    gone = [
        entry_id
        for entry_id, value in session.execute(
            select(ListEntryRecord.id, ListEntryRecord.value).where(_of(account_id, kind))
        )
        if value in removed
    ]
    for start in range(0, len(gone), _CHUNK):
        session.execute(
            delete(ListEntryRecord).where(ListEntryRecord.id.in_(gone[start : start + _CHUNK]))
        )
    for entry_id, value in change.respelled:
        session.execute(
            update(ListEntryRecord).where(ListEntryRecord.id == entry_id).values(value=value)
        )
    added = set(change.added)
    add_entries(session, account_id, kind, (entry for entry in entries if entry.value in added))
    return change
