"""受信ログ: what became of each mail for each mailbox, and why, for the last days.

The milter hands over one row per recipient once a message's verdict is final; rows wait
in memory and a background thread writes them in one INSERT every second or so. So the
log costs a mail no store write of its own (measured in bench/), and a crash loses at
most the rows of one interval, never mail: the log tells what happened, the Maildirs and
the quarantine rows are what happened.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sekisho.rules import allow_from
from sekisho.rules.model import Action, Decision, RuleHit
from sekisho.store.db import Store
from sekisho.store.models import DeliveryLogEntry, utcnow
from sekisho.store.paging import Page, containing, page_of_rows
from sekisho.store.periodic import run_every

log = logging.getLogger("sekisho.delivery_log")
KEPT_DAYS = 7
# A row is for reading on a screen: long headers are cut, the mail itself has them whole.
_TEXT_MAX_CHARS = 255
# Rows held while the store is down before the oldest are dropped (the log is no mail).
_PENDING_MAX = 100_000
INBOX = "inbox"
QUARANTINE = "quarantine"
TAGGED = "tagged"
FORWARDED = "forwarded"  # forwarded, and no copy kept
VIRUS = "virus"
_TABLE = DeliveryLogEntry.metadata.tables[DeliveryLogEntry.__tablename__]


@dataclass(frozen=True)
class Delivery:
    """One row to write."""

    account_id: int
    at: datetime
    sender: str
    subject: str
    outcome: str
    rule: str = ""
    entry: str = ""
    matched: str = ""
    forwarded_to: str = ""
    auto_replied: bool = False
    message_key: str = ""
    queue_id: str = ""


def outcome_of(decision: Decision) -> str:
    """Where the mailbox's copy went, as 受信ログ names it."""
    if decision.action is Action.REMOVE_VIRUS:
        return VIRUS
    if decision.action is Action.QUARANTINE:
        return QUARANTINE
    if decision.forward.targets and not decision.forward.keep_mailbox:
        return FORWARDED
    return TAGGED if decision.action is Action.TAG else INBOX


def delivery(
    account_id: int,
    decision: Decision,
    sender: str,
    subject: str,
    message_key: str,
    queue_id: str,
    at: datetime,
) -> Delivery:
    hit = decision.hit or _unverified(decision)
    return Delivery(
        account_id=account_id,
        at=at,
        sender=sender[:_TEXT_MAX_CHARS],
        subject=subject[:_TEXT_MAX_CHARS],
        outcome=outcome_of(decision),
        rule=hit.rule if hit else "",
        entry=hit.entry[:_TEXT_MAX_CHARS] if hit else "",
        matched=hit.matched[:_TEXT_MAX_CHARS] if hit else "",
        forwarded_to=", ".join(decision.forward.targets),
        auto_replied=decision.auto_reply is not None,
        message_key=message_key,
        queue_id=queue_id[:32],
    )


def _unverified(decision: Decision) -> RuleHit | None:
    """A mail nothing caught that an allow entry matched but did not lift: say so."""
    found = decision.unverified_allow
    return RuleHit(allow_from.unverified_name, found.entry, found.matched) if found else None


class DeliveryLog:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[Delivery] = []
        self._lock = threading.Lock()

    def record(self, rows: list[Delivery]) -> None:
        with self._lock:
            self._pending.extend(rows)
            del self._pending[:-_PENDING_MAX]

    def flush(self) -> int:
        """Write the pending rows in one statement; how many were written."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return 0
        try:
            with self._store.transaction() as session:
                # Core's executemany with the rows' own attribute dicts: the ORM's bulk
                # insert and dataclasses.asdict's deep copies were most of the milter's
                # Python time spent on the log (bench/README.md).
                session.connection().execute(insert(_TABLE), [vars(row) for row in pending])
        except SQLAlchemyError as error:
            log.warning("delivery_log_not_written rows=%d error=%s", len(pending), error)
            self.record(pending)
            return 0
        return len(pending)

    def run_every(self, seconds: float, stop: threading.Event) -> threading.Thread:
        return run_every(self.flush, seconds, stop, "delivery_log_flush")


def delivery_page(
    session: Session, account_id: int, query: str = "", number: int = 1
) -> Page[DeliveryLogEntry]:
    """One page of a mailbox's log, newest first; ``query`` finds sender or subject."""
    statement = select(DeliveryLogEntry).where(DeliveryLogEntry.account_id == account_id)
    text = query.strip()
    if text:
        pattern = containing(text)
        statement = statement.where(
            or_(
                DeliveryLogEntry.sender.ilike(pattern, escape="\\"),
                DeliveryLogEntry.subject.ilike(pattern, escape="\\"),
            )
        )
    statement = statement.order_by(DeliveryLogEntry.at.desc(), DeliveryLogEntry.id.desc())
    return page_of_rows(session, statement, number)


def delivery_entry(session: Session, account_id: int, entry_id: int) -> DeliveryLogEntry | None:
    """One row of a mailbox's log; None for another mailbox's row or one purged."""
    return session.scalars(
        select(DeliveryLogEntry).where(
            DeliveryLogEntry.id == entry_id, DeliveryLogEntry.account_id == account_id
        )
    ).one_or_none()


def forget_old(session: Session, now: datetime | None = None, days: int = KEPT_DAYS) -> int:
    cutoff = (now or utcnow()) - timedelta(days=days)
    result = session.execute(delete(DeliveryLogEntry).where(DeliveryLogEntry.at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
