"""The outbox: rows of mail to send, claimed by workers, marked sent only after the 250.

Claiming selects the due rows and marks them in one transaction. On PostgreSQL the
SELECT locks them ``FOR UPDATE SKIP LOCKED``, so two workers never pick the same row; on
SQLite the UPDATE checks again that each row is still due, so a row two workers selected
goes to the first UPDATE only. A claim is a lease: a worker that dies leaves rows that
are due again once ``claimed_until`` has passed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from sekisho.store.db import Store
from sekisho.store.models import OutboxMessage, utcnow

QUARANTINE_NOTICE = "quarantine_notice"
VIRUS_REPORT = "virus_report"
AUTO_REPLY = "auto_reply"
# A record, not a mail to send: the milter queued a [spam]-tagged copy (born sent).
TAGGED_COPY = "tagged_copy"
# How long a claimed row is left to the worker that claimed it: far more than sending
# takes (one SMTP exchange with the local Postfix), so a row is sent twice only when a
# worker stalled this long after the 250 and before writing sent_at.
LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
# Like Postfix's maximal_queue_lifetime: after this the row is given up (failed_at set).
GIVE_UP_AFTER = timedelta(days=5)
# An auto-reply days late answers a mail the sender has long stopped waiting on.
GIVE_UP_AUTO_REPLY_AFTER = timedelta(hours=24)
# Sent and failed rows are kept this long for the operator, then deleted by purge.
KEEP_FINISHED = timedelta(days=30)


@dataclass(frozen=True)
class Claimed:
    """Rows one worker holds until it marks them; ``token`` proves the claim is still its."""

    token: str
    rows: list[OutboxMessage]


def enqueue(
    session: Session,
    kind: str,
    dedupe_key: str,
    envelope_to: str,
    *,
    account_id: int | None = None,
    quarantine_id: int | None = None,
    not_before: datetime | None = None,
    details: str | None = None,
    content: bytes | None = None,
    sent_at: datetime | None = None,
) -> None:
    """Add a row in the caller's transaction, so it exists exactly when the decision does."""
    now = utcnow()
    session.add(
        OutboxMessage(
            kind=kind,
            dedupe_key=dedupe_key,
            envelope_to=envelope_to,
            account_id=account_id,
            quarantine_id=quarantine_id,
            created_at=now,
            not_before=not_before or now,
            attempts=0,
            details=details,
            content=content,
            sent_at=sent_at,
        )
    )


def already_queued(session: Session, dedupe_keys: list[str]) -> list[str]:
    return list(
        session.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(dedupe_keys))
        )
    )


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.not_before <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
    )


def claim(store: Store, limit: int, now: datetime | None = None) -> Claimed:
    """Take up to ``limit`` due rows, oldest first, for this caller alone."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    with store.transaction() as session:
        # The ids first, then the UPDATE: PostgreSQL may run a LIMIT … SKIP LOCKED
        # subquery inside an UPDATE again for each row it joins, each run skipping the
        # rows the last one locked, and so claim far more than ``limit`` (all 200 of 200
        # due rows in the two-node test).
        due_ids = list(
            session.scalars(
                select(OutboxMessage.id)
                .where(_due(now))
                .order_by(OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if due_ids:
            session.execute(
                update(OutboxMessage)
                # Due is checked again on the row itself: on SQLite another worker may
                # have claimed it between this worker's SELECT and its UPDATE.
                .where(OutboxMessage.id.in_(due_ids), _due(now))
                .values(claim_token=token, claimed_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
    with store.read() as session:
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.claim_token == token)
                .order_by(OutboxMessage.id)
            )
        )
    return Claimed(token, rows)


def _held(claimed: Claimed, ids: Iterable[int]) -> ColumnElement[bool]:
    return and_(OutboxMessage.id.in_(list(ids)), OutboxMessage.claim_token == claimed.token)


def mark_sent(store: Store, claimed: Claimed, ids: Iterable[int]) -> None:
    with store.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(_held(claimed, ids))
            # A report's original is only needed until it is sent.
            .values(sent_at=utcnow(), claim_token=None, claimed_until=None, content=None)
            .execution_options(synchronize_session=False)
        )


def content_of(store: Store, row_id: int) -> bytes:
    """The material of one row (deferred: a claim never loads a batch of originals)."""
    with store.read() as session:
        return (
            session.scalar(select(OutboxMessage.content).where(OutboxMessage.id == row_id)) or b""
        )


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 … minutes after the n-th failed attempt, at most an hour."""
    delay: timedelta = FIRST_RETRY * 2 ** max(attempts - 1, 0)
    return min(delay, LONGEST_RETRY)


def mark_failed_attempt(
    store: Store,
    claimed: Claimed,
    ids: Iterable[int],
    error: str,
    permanent: bool,
    now: datetime | None = None,
) -> None:
    """Count the attempt; due again after the backoff, or given up (permanent or too old)."""
    now = now or utcnow()
    with store.transaction() as session:
        rows = session.scalars(select(OutboxMessage).where(_held(claimed, ids)))
        for row in rows:
            row.attempts += 1
            row.last_error = error[:1000]
            row.claim_token, row.claimed_until = None, None
            give_up_after = GIVE_UP_AUTO_REPLY_AFTER if row.kind == AUTO_REPLY else GIVE_UP_AFTER
            if permanent or now - row.created_at >= give_up_after:
                row.failed_at = now
            else:
                row.not_before = now + retry_delay(row.attempts)


def delete_finished(session: Session, now: datetime) -> int:
    """Sent or given-up rows older than KEEP_FINISHED; they are only history."""
    cutoff = now - KEEP_FINISHED
    result = session.execute(
        delete(OutboxMessage)
        .where(
            or_(OutboxMessage.sent_at < cutoff, OutboxMessage.failed_at < cutoff),
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def backlog(session: Session) -> dict[str, int]:
    """Rows waiting to be sent (due or backing off), by kind."""
    rows = session.execute(
        select(OutboxMessage.kind, func.count())
        .where(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))
        .group_by(OutboxMessage.kind)
    )
    return {kind: int(count) for kind, count in rows}
