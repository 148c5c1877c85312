"""Quarantine records: one row per copy written into a recipient's ``.Junk`` folder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sekisho.store.db import Store
from sekisho.store.models import QuarantinedMessage, utcnow

RETENTION = timedelta(days=7)  # SPEC.md §11; the setting quarantine_days overrides it


@dataclass(frozen=True)
class QuarantineRecord:
    account_id: int
    message_key: str
    file_name: str
    rule: str
    entry: str
    matched: str
    sender: str
    subject: str
    queue_id: str


def already_quarantined(session: Session, account_id: int, message_key: str) -> bool:
    return (
        session.scalar(
            select(QuarantinedMessage.id).where(
                QuarantinedMessage.account_id == account_id,
                QuarantinedMessage.message_key == message_key,
            )
        )
        is not None
    )


def record_quarantine(
    session: Session,
    record: QuarantineRecord,
    retention: timedelta = RETENTION,
    now: datetime | None = None,
) -> None:
    received = now or utcnow()
    session.add(
        QuarantinedMessage(
            account_id=record.account_id,
            message_key=record.message_key,
            file_name=record.file_name,
            rule=record.rule,
            entry=record.entry,
            matched=record.matched,
            sender=record.sender,
            subject=record.subject,
            queue_id=record.queue_id,
            received_at=received,
            expires_at=received + retention,
        )
    )


def record_quarantine_once(
    store: Store, record: QuarantineRecord, retention: timedelta = RETENTION
) -> bool:
    """Commit the row; False when the same message was recorded first by another attempt."""
    try:
        with store.transaction() as session:
            record_quarantine(session, record, retention)
    except IntegrityError:
        return False
    return True


def quarantined_for(session: Session, account_id: int) -> list[QuarantinedMessage]:
    return list(
        session.scalars(
            select(QuarantinedMessage)
            .where(QuarantinedMessage.account_id == account_id)
            .order_by(QuarantinedMessage.received_at.desc())
        )
    )


def quarantined_one(session: Session, account_id: int, record_id: int) -> QuarantinedMessage | None:
    """One copy of this mailbox (another mailbox's id finds nothing)."""
    return session.scalar(
        select(QuarantinedMessage).where(
            QuarantinedMessage.account_id == account_id, QuarantinedMessage.id == record_id
        )
    )


def expired(session: Session, now: datetime) -> list[QuarantinedMessage]:
    """Copies whose time is up (expires_at reached), oldest first."""
    return list(
        session.scalars(
            select(QuarantinedMessage)
            .where(QuarantinedMessage.expires_at <= now)
            .order_by(QuarantinedMessage.expires_at)
        )
    )
