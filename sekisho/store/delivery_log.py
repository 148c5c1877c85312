"""受信ログ: what became of each mail for each mailbox, and why, for the last days.

The milter hands over each message's decisions once its verdict is final; they wait in
memory and a background thread builds the rows (one per mailbox) and writes them in one
INSERT every second or so. So the log costs a mail no store write of its own and next to
no work on the milter's thread (bench/delivery_log.py), and a crash loses at most the rows
of one interval, never mail: the log tells what happened, the Maildirs and the quarantine
rows are what happened. An operator who keeps no log (``delivery_log_days = 0``) gets no
DeliveryLog at all: the milter then hands over nothing.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, exists, insert, or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from sekisho.rules import allow_from
from sekisho.rules.encoded_words import readable
from sekisho.rules.model import Action, Decision, Message, RuleHit
from sekisho.store.db import Store
from sekisho.store.models import Account, DeliveryLogEntry, utcnow
from sekisho.store.paging import Page, containing, page_of_rows
from sekisho.store.periodic import run_every

log = logging.getLogger("sekisho.delivery_log")
KEPT_DAYS = 7
# A row is for reading on a screen: long headers are cut, the mail itself has them whole.
# Cut so, sender and subject (up to 4 bytes a character) also fit the index that carries
# them (migration 0018): PostgreSQL refuses an index entry over 2,704 bytes.
_TEXT_MAX_CHARS = 255
# Rows a purge deletes in one transaction (forget_old): at 10 million rows 2,000 took
# ~70 ms on a loaded machine, and a writer waiting for the lock meanwhile 15 ms at the
# median; 5,000 took 165 ms and the writer 90 ms, for a tenth less in all (bench/README.md).
PURGE_BATCH = 2_000
# Rows (and messages) held while the store is down before the oldest are dropped (the
# log is no mail).
_PENDING_MAX = 100_000
INBOX = "inbox"
QUARANTINE = "quarantine"
TAGGED = "tagged"
FORWARDED = "forwarded"  # forwarded, and no copy kept
VIRUS = "virus"
_TABLE = DeliveryLogEntry.metadata.tables[DeliveryLogEntry.__tablename__]


class Mailed(NamedTuple):
    """One message's decisions as the milter hands them over: the raw pieces, so that its
    thread builds no rows (a tuple is the cheapest thing to build; the flush thread
    decodes the sender and subject once per message and makes the rows)."""

    at: datetime
    message: Message
    message_key: str
    queue_id: str
    mailboxes: tuple[tuple[int, Decision], ...]  # (account id, its final decision)


def outcome_of(decision: Decision) -> str:
    """Where the mailbox's copy went, as 受信ログ names it."""
    if decision.action is Action.REMOVE_VIRUS:
        return VIRUS
    if decision.action is Action.QUARANTINE:
        return QUARANTINE
    if decision.forward.targets and not decision.forward.keep_mailbox:
        return FORWARDED
    return TAGGED if decision.action is Action.TAG else INBOX


def rows_of(mailed: Mailed) -> list[dict[str, Any]]:
    """The rows of one message, one per mailbox, as the table's columns."""
    sender = readable(mailed.message.sender)[:_TEXT_MAX_CHARS]
    subject = mailed.message.subject[:_TEXT_MAX_CHARS]
    queue_id = mailed.queue_id[:32]
    rows = []
    for account_id, decision in mailed.mailboxes:
        hit = decision.hit or _unverified(decision)
        rows.append(
            {
                "account_id": account_id,
                "at": mailed.at,
                "sender": sender,
                "subject": subject,
                "outcome": outcome_of(decision),
                "rule": hit.rule if hit else "",
                "entry": hit.entry[:_TEXT_MAX_CHARS] if hit else "",
                "matched": hit.matched[:_TEXT_MAX_CHARS] if hit else "",
                "forwarded_to": ", ".join(decision.forward.targets),
                "auto_replied": decision.auto_reply is not None,
                "message_key": mailed.message_key,
                "queue_id": queue_id,
            }
        )
    return rows


def _unverified(decision: Decision) -> RuleHit | None:
    """A mail nothing caught that an allow entry matched but did not lift: say so."""
    found = decision.unverified_allow
    return RuleHit(allow_from.unverified_name, found.entry, found.matched) if found else None


class DeliveryLog:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[Mailed] = []
        self._unwritten: list[dict[str, Any]] = []  # built, but the store was down
        self._lock = threading.Lock()

    def record(self, mailed: Mailed) -> None:
        with self._lock:
            self._pending.append(mailed)
            del self._pending[:-_PENDING_MAX]

    def flush(self) -> int:
        """Write the pending rows in one statement; how many were written. Those of a
        mailbox deleted since are dropped; after any other failure they wait for the next."""
        with self._lock:
            pending, self._pending = self._pending, []
            rows, self._unwritten = self._unwritten, []
        for mailed in pending:
            rows.extend(rows_of(mailed))
        if not rows:
            return 0
        try:
            return self._write(rows)
        except SQLAlchemyError as error:
            log.warning("delivery_log_not_written rows=%d error=%s", len(rows), error)
            with self._lock:
                self._unwritten = (rows + self._unwritten)[-_PENDING_MAX:]
            return 0

    def _write(self, rows: list[dict[str, Any]]) -> int:
        try:
            self._insert(rows)
            return len(rows)
        except IntegrityError:
            # A mailbox deleted since its mail: its rows break the foreign key, and the
            # statement fails for every mailbox's. Asked only now, since it is rare: one
            # more read per flush would be paid for nothing. Deleted again before the
            # insert below, it fails once more and the next flush asks again.
            asked = {row["account_id"] for row in rows}
            existing = self._existing_mailboxes(asked)
            if existing == asked:
                raise  # not that: the rows wait for the next flush, as on any failure
        kept = [row for row in rows if row["account_id"] in existing]
        if kept:
            self._insert(kept)
        log.info(
            "delivery_log_rows_dropped rows=%d mailboxes=%d reason=mailbox_deleted",
            len(rows) - len(kept),
            len(asked - existing),
        )
        return len(kept)

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        with self._store.transaction() as session:
            # Core's executemany of plain dicts: the ORM's bulk insert and
            # dataclasses.asdict's deep copies were most of the milter's Python time
            # spent on the log (bench/README.md).
            session.connection().execute(insert(_TABLE), rows)

    def _existing_mailboxes(self, asked: set[int]) -> set[int]:
        # Inline: rows held through an outage may name more mailboxes than a statement
        # takes parameters (32,766 on SQLite).
        ids = Account.id.in_(bindparam("ids", sorted(asked), expanding=True, literal_execute=True))
        with self._store.read() as session:
            return set(session.scalars(select(Account.id).where(ids)))

    def run_every(self, seconds: float, stop: threading.Event) -> threading.Thread:
        return run_every(self.flush, seconds, stop, "delivery_log_flush")


def delivery_page(
    session: Session, account_id: int, query: str = "", number: int = 1
) -> Page[DeliveryLogEntry]:
    """One page of a mailbox's log, newest first; ``query`` finds sender or subject.

    The page's ids are found first, then its rows by id: what finds them (the mailbox, the
    time, sender and subject) is all in one index (migration 0018), so the count and the
    page read the index alone, and the table only for the page's rows. PostgreSQL reads an
    index alone (an index-only scan) only for a query of its columns alone: asked for the
    whole rows, it read every row of the mailbox to test the search on it."""
    found = select(DeliveryLogEntry.id).where(DeliveryLogEntry.account_id == account_id)
    text = query.strip()
    if text:
        pattern = containing(text)
        found = found.where(
            or_(
                DeliveryLogEntry.sender.ilike(pattern, escape="\\"),
                DeliveryLogEntry.subject.ilike(pattern, escape="\\"),
            )
        )
    newest_first = (DeliveryLogEntry.at.desc(), DeliveryLogEntry.id.desc())
    ids = page_of_rows(session, found.order_by(*newest_first), number)
    rows = session.scalars(
        select(DeliveryLogEntry).where(DeliveryLogEntry.id.in_(ids.entries)).order_by(*newest_first)
    ).all()
    return Page(list(rows), ids.total, ids.number, ids.pages)


def delivery_entry(session: Session, account_id: int, entry_id: int) -> DeliveryLogEntry | None:
    """One row of a mailbox's log; None for another mailbox's row or one purged."""
    return session.scalars(
        select(DeliveryLogEntry).where(
            DeliveryLogEntry.id == entry_id, DeliveryLogEntry.account_id == account_id
        )
    ).one_or_none()


def forget_old(
    store: Store, now: datetime | None = None, days: int = KEPT_DAYS, batch: int = PURGE_BATCH
) -> int:
    """Delete the rows past their days, at most ``batch`` rows a transaction: on SQLite a
    deleting transaction holds the store's write lock, which the milter's quarantine rows
    wait for at most 10 s (the busy timeout), and a day's rows of a 10-million-row table in
    one transaction held it 15 s (bench/README.md).

    The rows are found mailbox by mailbox, which both SQLite and PostgreSQL answer from
    the (account, time) index: asked by time alone they read the whole table. Which
    mailboxes have any is asked first, outside the deleting transactions, so that those
    spend no time on mailboxes with nothing to delete. No row is missed: a deleted
    mailbox's rows go with it (ON DELETE CASCADE)."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    with store.read() as session:
        mailboxes = deque(
            session.scalars(
                select(Account.id)
                .where(
                    exists().where(
                        DeliveryLogEntry.account_id == Account.id, DeliveryLogEntry.at < cutoff
                    )
                )
                .order_by(Account.id)
            )
        )
    forgotten = 0
    while mailboxes:
        room = batch
        with store.transaction() as session:
            while mailboxes and room:
                deleted = _forget_some(session, mailboxes[0], cutoff, room)
                if deleted < room:  # the mailbox has no more
                    mailboxes.popleft()
                room -= deleted
        forgotten += batch - room
    return forgotten


def _forget_some(session: Session, account_id: int, cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` of the mailbox's rows from before ``cutoff``; how many."""
    some = (
        select(DeliveryLogEntry.id)
        .where(DeliveryLogEntry.account_id == account_id, DeliveryLogEntry.at < cutoff)
        .limit(limit)
    )
    result = session.execute(
        delete(DeliveryLogEntry).where(DeliveryLogEntry.id.in_(some)),
        # Nothing of the table is in the session: the ORM need not find which rows went.
        execution_options={"synchronize_session": False},
    )
    return int(getattr(result, "rowcount", 0) or 0)
