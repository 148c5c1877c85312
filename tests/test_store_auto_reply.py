"""The senders a mailbox replied to, on SQLite and PostgreSQL: one reply per 24 hours,
the record written only once the reply was sent, one worker at a time per sender."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sekisho.rules.auto_reply import AutoReply, SenderText
from sekisho.store import accounts
from sekisho.store.auto_reply import (
    SENDING_LEASE,
    Reservation,
    auto_reply,
    forget_old_replies,
    replied_recently,
    reserve,
    set_auto_reply,
    settle,
)
from sekisho.store.db import Store
from sekisho.store.policies import load_policy

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def account(store: Store, replying: bool = True) -> int:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        account_id = accounts.require_account(session, "taro@example.jp").id
        if replying:
            set_auto_reply(session, account_id, AutoReply(True, "away"))
        return account_id


def test_the_setting_is_kept_and_reaches_the_policy(store: Store, example_domain: str) -> None:
    account_id = account(store, replying=False)
    setting = AutoReply(
        True,
        "away",
        (SenderText("boss@corp.example", "boss"), SenderText("family.example", "family")),
        date(2026, 12, 28),
        None,
    )
    with store.transaction() as session:
        set_auto_reply(session, account_id, setting)
    with store.read() as session:
        assert auto_reply(session, account_id) == setting
    policy = load_policy(store, "taro@example.jp")
    assert policy is not None
    assert policy.auto_reply == setting
    with store.transaction() as session:
        set_auto_reply(session, account_id, AutoReply(False, "away"))
    with store.read() as session:
        assert auto_reply(session, account_id) == AutoReply(False, "away")


def test_one_reply_per_sender_per_day(store: Store, example_domain: str) -> None:
    account_id = account(store)
    assert reserve(store, account_id, "Alice@ok.example", NOW) is Reservation.TAKEN
    # Another worker, while the first is still sending:
    assert reserve(store, account_id, "alice@ok.example", NOW) is Reservation.BUSY
    settle(store, account_id, "alice@ok.example", NOW)
    later = NOW + timedelta(hours=23, minutes=59)
    assert reserve(store, account_id, "alice@ok.example", later) is Reservation.REPLIED
    with store.read() as session:
        assert replied_recently(session, account_id, "ALICE@ok.example", later)
    assert reserve(store, account_id, "bob@ok.example", later) is Reservation.TAKEN
    next_day = NOW + timedelta(hours=24)
    assert reserve(store, account_id, "alice@ok.example", next_day) is Reservation.TAKEN


def test_a_failed_send_records_nothing(store: Store, example_domain: str) -> None:
    account_id = account(store)
    assert reserve(store, account_id, "alice@ok.example", NOW) is Reservation.TAKEN
    settle(store, account_id, "alice@ok.example", None)
    with store.read() as session:
        assert not replied_recently(session, account_id, "alice@ok.example", NOW)
    assert reserve(store, account_id, "alice@ok.example", NOW) is Reservation.TAKEN


def test_a_dead_worker_s_lease_runs_out(store: Store, example_domain: str) -> None:
    account_id = account(store)
    assert reserve(store, account_id, "alice@ok.example", NOW) is Reservation.TAKEN
    after = NOW + SENDING_LEASE + timedelta(seconds=1)
    assert reserve(store, account_id, "alice@ok.example", after) is Reservation.TAKEN


def test_a_thousand_senders_are_remembered_and_old_ones_forgotten(
    store: Store, example_domain: str
) -> None:
    account_id = account(store)
    senders = [f"sender{n}@ok.example" for n in range(1000)]
    for sender in senders:
        assert reserve(store, account_id, sender, NOW) is Reservation.TAKEN
        settle(store, account_id, sender, NOW)
    later = NOW + timedelta(hours=23)
    with store.transaction() as session:
        assert forget_old_replies(session, later) == 0
    with store.read() as session:
        assert all(replied_recently(session, account_id, s, later) for s in senders)
    with store.transaction() as session:
        assert forget_old_replies(session, NOW + timedelta(days=3)) == 1000


def test_no_right_to_reply_while_the_setting_is_off_or_out_of_its_dates(
    store: Store, example_domain: str
) -> None:
    account_id = account(store, replying=False)
    assert reserve(store, account_id, "alice@ok.example", NOW) is Reservation.OFF
    with store.transaction() as session:  # NOW is 2026-11-27 18:00 in Japan
        set_auto_reply(session, account_id, AutoReply(True, "away", (), date(2026, 11, 28)))
    assert reserve(store, account_id, "alice@ok.example", NOW) is Reservation.OFF
    tomorrow_in_japan = NOW + timedelta(hours=6)
    assert reserve(store, account_id, "alice@ok.example", tomorrow_in_japan) is Reservation.TAKEN
