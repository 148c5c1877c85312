"""自動返信設定 of a mailbox, and the senders it replied to (one reply per 24 hours).

The record of a reply is written only after Postfix took it (``confirm``). While a
worker sends one, a short lease (``reserve``) keeps any other worker from replying to
the same sender at the same time; a failed send gives the lease back (``release``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from sekisho.rules.addresses import normalize_address
from sekisho.rules.auto_reply import OFF, REPLY_INTERVAL, AutoReply, SenderText, japan_day
from sekisho.store.accounts import bump_settings_version
from sekisho.store.db import Store
from sekisho.store.models import AutoReplySender, AutoReplySenderText, AutoReplySettingRecord

# Longer than one SMTP exchange with the local Postfix takes; a worker that dies while
# sending leaves the sender free again after this.
SENDING_LEASE = timedelta(minutes=5)
# Records older than this say nothing any more (the interval is 24 hours).
FORGET_AFTER = REPLY_INTERVAL * 2


class Reservation(Enum):
    TAKEN = "taken"  # this caller sends the reply now
    REPLIED = "replied"  # replied within the interval: no reply
    OFF = "off"  # the owner turned the setting off, or today is outside its dates
    BUSY = "busy"  # another worker is replying right now: ask again later


def auto_reply(session: Session, account_id: int) -> AutoReply:
    row = session.get(AutoReplySettingRecord, account_id)
    if row is None:
        return OFF
    texts = session.scalars(
        select(AutoReplySenderText)
        .where(AutoReplySenderText.account_id == account_id)
        .order_by(AutoReplySenderText.id)
    )
    return AutoReply(
        row.enabled,
        row.message,
        tuple(SenderText(text.pattern, text.message) for text in texts),
        row.starts_on,
        row.ends_on,
    )


def set_auto_reply(session: Session, account_id: int, setting: AutoReply) -> None:
    """Replace the setting (checked and cleaned before: sekisho.rules.auto_reply)."""
    row = session.get(AutoReplySettingRecord, account_id) or AutoReplySettingRecord(
        account_id=account_id
    )
    row.enabled = setting.enabled
    row.message = setting.message
    row.starts_on = setting.starts_on
    row.ends_on = setting.ends_on
    session.add(row)
    session.execute(delete(AutoReplySenderText).where(AutoReplySenderText.account_id == account_id))
    for entry in setting.per_sender:
        session.add(
            AutoReplySenderText(
                account_id=account_id,
                pattern=entry.pattern,
                pattern_key=normalize_address(entry.pattern),
                message=entry.message,
            )
        )
    bump_settings_version(session, account_id)
    session.flush()


def replied_recently(session: Session, account_id: int, sender: str, now: datetime) -> bool:
    replied_at = session.scalar(
        select(AutoReplySender.replied_at).where(
            AutoReplySender.account_id == account_id,
            AutoReplySender.sender == normalize_address(sender),
        )
    )
    return replied_at is not None and now - replied_at < REPLY_INTERVAL


def reserve(store: Store, account_id: int, sender: str, now: datetime) -> Reservation:
    """Take the right to reply to ``sender`` now, unless the setting no longer answers
    today, the right was used within the interval, or another worker holds it."""
    key = normalize_address(sender)
    with store.transaction() as session:
        if not auto_reply(session, account_id).active_on(japan_day(now)):
            return Reservation.OFF
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            dialect.insert(AutoReplySender)
            .values(account_id=account_id, sender=key)
            .on_conflict_do_nothing()
        )
        taken = session.execute(
            update(AutoReplySender)
            .where(
                AutoReplySender.account_id == account_id,
                AutoReplySender.sender == key,
                or_(
                    AutoReplySender.replied_at.is_(None),
                    AutoReplySender.replied_at <= now - REPLY_INTERVAL,
                ),
                or_(
                    AutoReplySender.sending_until.is_(None),
                    AutoReplySender.sending_until < now,
                ),
            )
            .values(sending_until=now + SENDING_LEASE)
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) == 1:
            return Reservation.TAKEN
        return (
            Reservation.REPLIED
            if replied_recently(session, account_id, key, now)
            else Reservation.BUSY
        )


def settle(store: Store, account_id: int, sender: str, sent_at: datetime | None) -> None:
    """After the attempt: the reply's time once Postfix took it, or the lease given back."""
    values: dict[str, object] = {"sending_until": None}
    if sent_at is not None:
        values["replied_at"] = sent_at
    with store.transaction() as session:
        session.execute(
            update(AutoReplySender)
            .where(
                AutoReplySender.account_id == account_id,
                AutoReplySender.sender == normalize_address(sender),
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def forget_old_replies(session: Session, now: datetime) -> int:
    result = session.execute(
        delete(AutoReplySender)
        .where(
            or_(
                AutoReplySender.replied_at.is_(None),
                AutoReplySender.replied_at < now - FORGET_AFTER,
            ),
            or_(AutoReplySender.sending_until.is_(None), AutoReplySender.sending_until < now),
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
