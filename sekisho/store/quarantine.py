"""Quarantine records: one row per copy written into a recipient's ``.Junk`` folder."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sekisho.store.models import QuarantinedMessage, utcnow
from sekisho.store.outbox import QUARANTINE_NOTICE, enqueue
from sekisho.store.paging import Page, page_of_rows

RETENTION = timedelta(days=7)  # docs/features.md §11; the setting quarantine_days overrides it
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class QuarantineRecord:
    account_id: int
    address: str
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
) -> QuarantinedMessage:
    received = now or utcnow()
    row = QuarantinedMessage(
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
    session.add(row)
    return row


def notice_due(now: datetime, digest_minutes: int) -> datetime:
    """When the notice of a copy quarantined ``now`` goes out.

    0 minutes: at once, one notice per copy. Otherwise at the next multiple of the
    interval counted from a fixed epoch, so every copy of one interval falls due at the
    same moment and the worker sends them to their mailbox as one digest.
    """
    if digest_minutes <= 0:
        return now
    interval = timedelta(minutes=digest_minutes)
    slots = -((EPOCH - now) // interval)  # ceiling division
    return EPOCH + slots * interval


def enqueue_notice(
    session: Session, row: QuarantinedMessage, address: str, notice_at: datetime
) -> None:
    """The 隔離通知メール of a copy (its row flushed, so it has its id)."""
    enqueue(
        session,
        QUARANTINE_NOTICE,
        f"{QUARANTINE_NOTICE}:{row.id}",
        address,
        account_id=row.account_id,
        quarantine_id=row.id,
        not_before=notice_at,
    )


def quarantine_page(session: Session, account_id: int, number: int = 1) -> Page[QuarantinedMessage]:
    """One page of a mailbox's spam folder, newest first (a spam wave fills thousands)."""
    statement = (
        select(QuarantinedMessage)
        .where(QuarantinedMessage.account_id == account_id)
        .order_by(QuarantinedMessage.received_at.desc(), QuarantinedMessage.id.desc())
    )
    return page_of_rows(session, statement, number)


def quarantine_count_and_last_id(session: Session, account_id: int) -> tuple[int, int]:
    row = session.execute(
        select(func.count(), func.coalesce(func.max(QuarantinedMessage.id), 0)).where(
            QuarantinedMessage.account_id == account_id
        )
    ).one()
    return int(row[0]), int(row[1])


def quarantine_ids_up_to(session: Session, account_id: int, last_id: int) -> list[int]:
    return list(
        session.scalars(
            select(QuarantinedMessage.id).where(
                QuarantinedMessage.account_id == account_id, QuarantinedMessage.id <= last_id
            )
        )
    )


def quarantined_one(session: Session, account_id: int, record_id: int) -> QuarantinedMessage | None:
    """One copy of this mailbox (another mailbox's id finds nothing)."""
    return session.scalar(
        select(QuarantinedMessage).where(
            QuarantinedMessage.account_id == account_id, QuarantinedMessage.id == record_id
        )
    )


def quarantine_ids_by_key(session: Session, account_id: int, keys: list[str]) -> dict[str, int]:
    """The copies of this mailbox that messages with these keys left (受信ログ links them)."""
    found = session.execute(
        select(QuarantinedMessage.message_key, QuarantinedMessage.id).where(
            QuarantinedMessage.account_id == account_id, QuarantinedMessage.message_key.in_(keys)
        )
    )
    return {row.message_key: row.id for row in found}


def quarantined_by_ids(session: Session, ids: list[int]) -> dict[int, QuarantinedMessage]:
    found = session.scalars(select(QuarantinedMessage).where(QuarantinedMessage.id.in_(ids)))
    return {record.id: record for record in found}


def expired(session: Session, now: datetime) -> list[QuarantinedMessage]:
    """Copies whose time is up (expires_at reached), oldest first."""
    return list(
        session.scalars(
            select(QuarantinedMessage)
            .where(QuarantinedMessage.expires_at <= now)
            .order_by(QuarantinedMessage.expires_at)
        )
    )


def held_count(session: Session) -> int:
    """Quarantined copies still in the spam folders (not released, not purged)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(QuarantinedMessage)
            .where(QuarantinedMessage.released_at.is_(None))
        )
        or 0
    )
