"""国外からのメール送信制限 of a mailbox: lifted until when, read and written."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from sekisho.store.accounts import bump_settings_version
from sekisho.store.models import AbroadUnlockRecord


def unlocked_until(session: Session, account_id: int) -> datetime | None:
    row = session.get(AbroadUnlockRecord, account_id)
    return row.unlocked_until if row is not None else None


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
