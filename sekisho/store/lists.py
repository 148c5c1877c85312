"""The entry lists (From reject, Subject reject, allow): read a page, add, delete, replace.

Entries arrive validated by sekisho.rules (ListEntry: value and match key). Every change
bumps the account's settings version in the same transaction, so the milters reload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from sekisho.rules.lists import ListKind
from sekisho.rules.validate import ListEntry
from sekisho.store.accounts import bump_settings_version
from sekisho.store.models import ListEntryRecord

# Bound parameters per statement: SQLite's limit is 32766, older builds' 999.
_CHUNK = 500


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _of(account_id: int, kind: ListKind) -> ColumnElement[bool]:
    return (ListEntryRecord.account_id == account_id) & (ListEntryRecord.kind == kind.name)


@dataclass(frozen=True)
class Page:
    """One page of a list, oldest entry first, optionally filtered by a search text."""

    entries: list[ListEntryRecord]
    total: int  # entries matching the search
    number: int
    pages: int


def page_of(
    session: Session,
    account_id: int,
    kind: ListKind,
    number: int = 1,
    per_page: int = 50,
    search: str = "",
) -> Page:
    condition = _of(account_id, kind)
    if search:
        escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        condition = condition & ListEntryRecord.value.ilike(f"%{escaped}%", escape="\\")
    total = session.scalar(select(func.count()).select_from(ListEntryRecord).where(condition))
    total = total or 0
    pages = max(1, -(-total // per_page))
    number = min(max(1, number), pages)
    entries = session.scalars(
        select(ListEntryRecord)
        .where(condition)
        .order_by(ListEntryRecord.id)
        .offset((number - 1) * per_page)
        .limit(per_page)
    ).all()
    return Page(list(entries), total, number, pages)


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


def all_entries(session: Session, account_id: int, kind: ListKind) -> list[ListEntryRecord]:
    return list(
        session.scalars(
            select(ListEntryRecord).where(_of(account_id, kind)).order_by(ListEntryRecord.id)
        )
    )


def match_pairs(session: Session, account_id: int, kind: ListKind) -> list[tuple[str, str]]:
    """(match key, value) of every entry: what a policy snapshot's matcher is built from."""
    rows = session.execute(
        select(ListEntryRecord.match_key, ListEntryRecord.value).where(_of(account_id, kind))
    )
    return [(key, value) for key, value in rows]


def registered_among(
    session: Session, account_id: int, kind: ListKind, texts: Iterable[str]
) -> set[str]:
    """Which of the match keys of ``texts`` are on the list already (a submission's check)."""
    keys = {kind.match_key(text.strip()) for text in texts if text.strip()}
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
    registered = registered_among(session, account_id, kind, texts)
    check = kind.check_entries(texts, registered, max_lines=None)
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
    """「全て削除」: every entry that existed when the owner confirmed (id ≤ ``last_id``)."""
    result = session.execute(
        delete(ListEntryRecord).where(_of(account_id, kind), ListEntryRecord.id <= last_id)
    )
    bump_settings_version(session, account_id)
    return int(result.rowcount)  # type: ignore[attr-defined]


def replace_entries(
    session: Session, account_id: int, kind: ListKind, entries: Iterable[ListEntry]
) -> int:
    """Make the list exactly ``entries`` (import): hit counters of kept entries survive."""
    wanted = {key_digest(entry.key): entry for entry in entries}
    existing: dict[str, int] = dict(
        session.execute(
            select(ListEntryRecord.key_digest, ListEntryRecord.id).where(_of(account_id, kind))
        ).all()
    )
    gone = [entry_id for digest, entry_id in existing.items() if digest not in wanted]
    for start in range(0, len(gone), _CHUNK):
        session.execute(
            delete(ListEntryRecord).where(ListEntryRecord.id.in_(gone[start : start + _CHUNK]))
        )
    return add_entries(
        session,
        account_id,
        kind,
        (entry for digest, entry in wanted.items() if digest not in existing),
    )
