"""The outbox on SQLite and PostgreSQL: due rows, claims that never overlap, leases that
run out, backoff and giving up, and notices written with their quarantine row."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sekisho.envelope import Envelope
from sekisho.maildir import Ownership
from sekisho.milter.quarantine import Quarantine
from sekisho.quarantine_folder import QuarantineFolder
from sekisho.rules.model import RuleHit, SpamSetting
from sekisho.store import accounts, outbox
from sekisho.store.db import Store
from sekisho.store.models import OutboxMessage, utcnow
from sekisho.store.policies import load_policy
from sekisho.store.quarantine import notice_due, quarantine_page
from sekisho.store.spam_settings import set_spam_setting

SPAM_HIT = RuleHit("spam", "15.0 / 5.0", "rspamd")


def add_rows(store: Store, count: int, not_before: datetime | None = None) -> None:
    with store.transaction() as session:
        for number in range(count):
            outbox.enqueue(
                session, "test", f"row-{number}", "taro@example.jp", not_before=not_before
            )


def rows(store: Store) -> list[OutboxMessage]:
    with store.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_a_claim_takes_due_rows_once_until_its_lease_runs_out(store: Store) -> None:
    add_rows(store, 3)
    add_rows_later = utcnow() + timedelta(minutes=10)
    with store.transaction() as session:
        outbox.enqueue(session, "test", "later", "taro@example.jp", not_before=add_rows_later)
    first = outbox.claim(store, 10)
    assert [row.dedupe_key for row in first.rows] == ["row-0", "row-1", "row-2"]
    assert outbox.claim(store, 10).rows == []  # held by the first claim
    lease_over = utcnow() + outbox.LEASE + timedelta(seconds=1)
    taken_again = outbox.claim(store, 10, now=lease_over)
    assert [row.dedupe_key for row in taken_again.rows] == ["row-0", "row-1", "row-2"]
    outbox.mark_sent(store, first, [row.id for row in first.rows])  # its lease was lost
    assert all(row.sent_at is None for row in rows(store))
    outbox.mark_sent(store, taken_again, [row.id for row in taken_again.rows])
    assert [row.dedupe_key for row in rows(store) if row.sent_at is None] == ["later"]


def test_a_claim_takes_no_more_than_its_limit(store: Store) -> None:
    """PostgreSQL may run a LIMIT … SKIP LOCKED subquery of an UPDATE once per joined row,
    which took all 200 rows for a claim of 100 (found by tests/e2e/test_two_nodes.py)."""
    add_rows(store, 200)
    assert len(outbox.claim(store, 100).rows) == 100
    assert len(outbox.claim(store, 100).rows) == 100
    assert outbox.claim(store, 100).rows == []


def test_two_workers_claiming_at_once_never_share_a_row(store: Store) -> None:
    add_rows(store, 200)
    taken: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def work(name: str) -> None:
        start.wait()
        while True:
            claimed = outbox.claim(store, 7)
            if not claimed.rows:
                return
            taken[name].extend(row.id for row in claimed.rows)
            outbox.mark_sent(store, claimed, [row.id for row in claimed.rows])

    threads = [threading.Thread(target=work, args=(name,)) for name in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert not set(taken["a"]) & set(taken["b"])
    assert len(taken["a"]) + len(taken["b"]) == 200
    assert all(row.sent_at is not None for row in rows(store))


def test_a_failed_attempt_backs_off_and_a_permanent_one_gives_up(store: Store) -> None:
    add_rows(store, 2)
    claimed = outbox.claim(store, 10)
    temporary, permanent = claimed.rows
    now = utcnow()
    outbox.mark_failed_attempt(store, claimed, [temporary.id], "451 4.3.0 try later", False, now)
    outbox.mark_failed_attempt(store, claimed, [permanent.id], "550 5.1.1 no such user", True, now)
    first, second = rows(store)
    assert first.attempts == 1
    assert first.failed_at is None
    assert first.not_before == now + timedelta(minutes=1)
    assert first.last_error == "451 4.3.0 try later"
    assert second.failed_at is not None
    assert outbox.claim(store, 10, now=now + timedelta(seconds=30)).rows == []
    again = outbox.claim(store, 10, now=now + timedelta(minutes=2))
    assert [row.id for row in again.rows] == [first.id]
    outbox.mark_failed_attempt(store, again, [first.id], "451", False, now + timedelta(minutes=2))
    assert rows(store)[0].not_before == now + timedelta(minutes=4)  # doubled


def test_a_row_older_than_five_days_is_given_up(store: Store) -> None:
    add_rows(store, 1)
    late = utcnow() + outbox.GIVE_UP_AFTER
    claimed = outbox.claim(store, 10, now=late)
    outbox.mark_failed_attempt(store, claimed, [claimed.rows[0].id], "451", False, late)
    assert rows(store)[0].failed_at == late


def test_retry_delays_double_up_to_an_hour() -> None:
    delays = [outbox.retry_delay(n) for n in (1, 2, 3, 7, 8, 20)]
    assert delays == [timedelta(minutes=m) for m in (1, 2, 4, 60, 60, 60)]


def test_notices_fall_due_at_once_or_at_the_digest_slot() -> None:
    now = datetime(2026, 11, 27, 7, 41, 5, tzinfo=UTC)
    assert notice_due(now, 0) == now
    assert notice_due(now, 60) == datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert notice_due(now, 15) == datetime(2026, 11, 27, 7, 45, tzinfo=UTC)
    on_the_slot = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert notice_due(on_the_slot, 60) == on_the_slot


@pytest.fixture
def taro(store: Store, example_domain: str) -> int:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        return accounts.require_account(session, "taro@example.jp").id


def quarantine_spam(store: Store, mail_root: Path, key: str, digest_minutes: int = 0) -> int:
    policy = load_policy(store, "taro@example.jp")
    assert policy is not None
    Quarantine(store, mail_root, Ownership(), notice_digest_minutes=digest_minutes).put(
        policy, SPAM_HIT, "x@spam.example", key, "Q1", key, [b"Subject: x\n\nbuy\n"], Envelope()
    )
    with store.read() as session:
        return next(
            r.id for r in quarantine_page(session, policy.account_id).entries if r.subject == key
        )


def test_a_spam_copy_gets_its_notice_row_only_with_the_switch_on(
    store: Store, taro: int, tmp_path: Path
) -> None:
    quarantine_spam(store, tmp_path, "switch off")
    assert rows(store) == []
    with store.transaction() as session:
        set_spam_setting(session, taro, SpamSetting(enabled=True, quarantine=True, notify=True))
    record_id = quarantine_spam(store, tmp_path, "switch on")
    quarantine_spam(store, tmp_path, "switch on")  # the same message again: no second row
    (row,) = rows(store)
    assert (row.kind, row.quarantine_id, row.envelope_to) == (
        outbox.QUARANTINE_NOTICE,
        record_id,
        "taro@example.jp",
    )
    policy = load_policy(store, "taro@example.jp")
    assert policy is not None
    Quarantine(store, tmp_path, Ownership()).put(
        policy,
        RuleHit("reject_from", "bad.example", "x@bad.example"),
        "x@bad.example",
        "own list",
        "Q2",
        "own list",
        [b"Subject: own list\n\nx\n"],
        Envelope(),
    )
    assert len(rows(store)) == 1  # what the owner's own lists catch is not announced


def test_deleting_the_copy_takes_its_pending_notice_with_it(
    store: Store, taro: int, tmp_path: Path
) -> None:
    with store.transaction() as session:
        set_spam_setting(session, taro, SpamSetting(enabled=True, quarantine=True, notify=True))
    record_id = quarantine_spam(store, tmp_path, "deleted", digest_minutes=60)
    assert rows(store)[0].not_before > utcnow()
    QuarantineFolder(store, tmp_path, Ownership()).delete(taro, record_id)
    assert rows(store) == []
