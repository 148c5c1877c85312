"""国外からのメール送信制限 of a mailbox: lifted until when, read and written."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sekisho.rules.abroad import is_unlocked
from sekisho.store.accounts import bump_settings_version
from sekisho.store.models import AbroadUnlockRecord


def unlocked_until(session: Session, account_id: int) -> datetime | None:
    row = session.get(AbroadUnlockRecord, account_id)
    return row.unlocked_until if row is not None else None


def lifted_until(session: Session, account_id: int, now: datetime) -> datetime | None:
    """When the lifting ends, or None while restricted (an ended week is 制限中 again)."""
    until = unlocked_until(session, account_id)
    return until if is_unlocked(until, now) else None


def set_unlocked_until(session: Session, account_id: int, until: datetime | None) -> None:
    """Lift the restriction until ``until``, or restore it (None)."""
    row = session.get(AbroadUnlockRecord, account_id)
    if until is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(AbroadUnlockRecord(account_id=account_id, unlocked_until=until))
    else:
        row.unlocked_until = until
    bump_settings_version(session, account_id)
    session.flush()
