"""Hit counters: how many mails each entry or header check caught, and when last.

The milter records hits in memory and a background thread writes them in one transaction
every few seconds, so a rule that catches a flood of mail costs one UPDATE per flush,
not a write per message. Counts of a failed flush are kept and written with the next
one; a crash loses at most the counts of one interval, never mail. Counters are not
settings: writing them leaves the settings version (and the milters' caches) alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Case, Update, case, literal, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute

from sekisho.rules.lists import LIST_KINDS
from sekisho.rules.model import RuleHit
from sekisho.rules.reject_header import name as reject_header
from sekisho.store.db import Store
from sekisho.store.lists import key_digest
from sekisho.store.models import HeaderRuleRecord, ListEntryRecord, UtcDateTime, utcnow
from sekisho.store.periodic import run_every

log = logging.getLogger("sekisho.hits")

_Key = tuple[int, str, str]  # account id, rule, entry


class HitCounter:
    def __init__(self, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock
        self._pending: dict[_Key, tuple[int, datetime]] = {}
        self._lock = threading.Lock()

    def record(self, account_id: int, hit: RuleHit) -> None:
        """Count ``hit``; rules without registered entries to count (none yet) are ignored."""
        if hit.rule == reject_header or hit.rule in LIST_KINDS:
            self._add((account_id, hit.rule, hit.entry), 1, self._clock())

    def _add(self, key: _Key, count: int, last: datetime) -> None:
        with self._lock:
            earlier, earlier_last = self._pending.get(key, (0, last))
            self._pending[key] = (earlier + count, max(last, earlier_last))

    def flush(self) -> int:
        """Write the pending counts; returns how many counters were updated."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            with self._store.transaction() as session:
                for (account_id, rule, entry), (count, last) in pending.items():
                    session.execute(_update_for(account_id, rule, entry, count, last))
        except SQLAlchemyError as error:
            log.warning("hit_counts_not_written counters=%d error=%s", len(pending), error)
            for key, (count, last) in pending.items():
                self._add(key, count, last)
            return 0
        return len(pending)

    def run_every(self, seconds: float, stop: threading.Event) -> threading.Thread:
        """Flush every ``seconds`` until ``stop`` is set, then once more; join the thread
        returned to be sure the last counts are written."""
        return run_every(self.flush, seconds, stop, "hit_counts_flush")


def _update_for(account_id: int, rule: str, entry: str, count: int, last: datetime) -> Update:
    if rule == reject_header:
        return (
            update(HeaderRuleRecord)
            .where(
                HeaderRuleRecord.account_id == account_id, HeaderRuleRecord.header_check == entry
            )
            .values(
                hit_count=HeaderRuleRecord.hit_count + count,
                last_hit_at=_later(HeaderRuleRecord.last_hit_at, last),
            )
        )
    kind = LIST_KINDS[rule]
    return (
        update(ListEntryRecord)
        .where(
            ListEntryRecord.account_id == account_id,
            ListEntryRecord.kind == kind.name,
            ListEntryRecord.key_digest == key_digest(kind.match_key(entry)),
        )
        .values(
            hit_count=ListEntryRecord.hit_count + count,
            last_hit_at=_later(ListEntryRecord.last_hit_at, last),
        )
    )


def _later(column: InstrumentedAttribute[datetime | None], last: datetime) -> Case[datetime]:
    """The later of the stored time and ``last``: several milters flush in any order."""
    bound = literal(last, UtcDateTime())  # stored as UTC on SQLite too, like the column
    return case((column.is_(None) | (column < bound), bound), else_=column)
