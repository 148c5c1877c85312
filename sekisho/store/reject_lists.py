"""The From reject list: read, add (already validated by sekisho.rules.validate)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sekisho.store.accounts import bump_settings_version
from sekisho.store.models import RejectFromEntry


def reject_from_values(session: Session, account_id: int) -> list[str]:
    return list(
        session.scalars(
            select(RejectFromEntry.value)
            .where(RejectFromEntry.account_id == account_id)
            .order_by(RejectFromEntry.id)
        )
    )


def add_reject_from(session: Session, account_id: int, values: Iterable[str]) -> int:
    rows = [RejectFromEntry(account_id=account_id, value=value) for value in values]
    session.add_all(rows)
    bump_settings_version(session, account_id)
    session.flush()
    return len(rows)


def replace_reject_from(session: Session, account_id: int, values: Iterable[str]) -> None:
    """Make the list exactly ``values`` (settings import: keys given replace the list)."""
    session.execute(delete(RejectFromEntry).where(RejectFromEntry.account_id == account_id))
    add_reject_from(session, account_id, values)
