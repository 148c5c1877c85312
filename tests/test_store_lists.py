"""The lists, header settings and hit counters in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.schema import SchemaItem

from sekisho.rules.lists import ALLOW_FROM, REJECT_FROM, REJECT_SUBJECT
from sekisho.rules.model import HeaderCheck, RuleHit
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.header_rules import header_checks, header_records, set_header_checks
from sekisho.store.hits import HitCounter
from sekisho.store.lists import (
    add_values,
    count_and_last_id,
    delete_up_to,
    export_rows,
    replace_entries,
    values,
)
from sekisho.store.migrate import upgrade
from sekisho.store.models import ONLY_ON, Account, Base
from sekisho.store.policies import load_policy


def _taro(store: Store) -> int:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        return accounts.require_account(session, "taro@example.jp").id


def _version(store: Store, account_id: int) -> int:
    with store.read() as session:
        account = session.get(Account, account_id)
        assert account is not None
        return account.settings_version


def test_migrations_build_exactly_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        dialect = connection.dialect.name

        def on_this_backend(item: SchemaItem, *_: object) -> bool:
            return bool(item.info.get(ONLY_ON, dialect) == dialect)

        context = MigrationContext.configure(connection, opts={"include_object": on_this_backend})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_policy_holds_every_list_and_header_check(store: Store, example_domain: str) -> None:
    taro = _taro(store)
    with store.transaction() as session:
        add_values(session, taro, REJECT_FROM, ["bad.example"])
        add_values(session, taro, REJECT_SUBJECT, ["未承諾広告"])
        add_values(session, taro, ALLOW_FROM, ["friend@bad.example"])
        set_header_checks(session, taro, {HeaderCheck.FROM_MISSING})
    policy = load_policy(store, "taro@example.jp")
    assert policy is not None
    assert policy.reject_from.match("x@bad.example") == "bad.example"
    assert policy.reject_subject.match("【未承諾広告】") == "未承諾広告"
    assert policy.allow_from.match("friend@bad.example") == "friend@bad.example"
    assert policy.reject_header == {HeaderCheck.FROM_MISSING}


def test_the_same_key_is_refused_whatever_its_spelling(store: Store, example_domain: str) -> None:
    taro = _taro(store)
    with store.transaction() as session:
        add_values(session, taro, REJECT_SUBJECT, ["Hello World"])
    with pytest.raises(ValueError, match="already registered"), store.transaction() as session:
        add_values(session, taro, REJECT_SUBJECT, ["ＨＥＬＬＯ　world"])
    with store.read() as session:
        assert values(session, taro, REJECT_SUBJECT) == ["Hello World"]


def test_hits_are_counted_in_batches_without_touching_the_version(
    store: Store, example_domain: str
) -> None:
    taro = _taro(store)
    with store.transaction() as session:
        add_values(session, taro, REJECT_FROM, ["bad.example", "quiet.example"])
        set_header_checks(session, taro, {HeaderCheck.SUBJECT_EMPTY})
    version = _version(store, taro)
    times = iter(datetime(2026, 11, 27, 9, minute, tzinfo=UTC) for minute in range(60))
    hits = HitCounter(store, clock=lambda: next(times))
    for _ in range(5):
        hits.record(taro, RuleHit("reject_from", "bad.example", "a@bad.example"))
    hits.record(taro, RuleHit("reject_header", "subject_empty", ""))
    hits.record(taro, RuleHit("reject_from", "deleted.example", "a@deleted.example"))
    assert hits.flush() == 3
    assert hits.flush() == 0  # nothing new
    with store.read() as session:
        counts = {
            value: (count, last) for value, count, last in export_rows(session, taro, REJECT_FROM)
        }
        header = header_records(session, taro)[HeaderCheck.SUBJECT_EMPTY]
        assert (header.hit_count, header.last_hit_at is not None) == (1, True)
    assert counts["bad.example"][0] == 5
    assert counts["bad.example"][1] == datetime(2026, 11, 27, 9, 4, tzinfo=UTC)
    assert counts["quiet.example"] == (0, None)
    assert _version(store, taro) == version


def test_a_flush_that_fails_keeps_its_counts_for_the_next(
    store: Store, example_domain: str, tmp_path: Path
) -> None:
    taro = _taro(store)
    with store.transaction() as session:
        add_values(session, taro, REJECT_FROM, ["bad.example"])
    broken = Store(f"sqlite:///{tmp_path / 'missing' / 'gone.db'}")
    hits = HitCounter(broken)
    hits.record(taro, RuleHit("reject_from", "bad.example", "a@bad.example"))
    hits.record(taro, RuleHit("reject_from", "bad.example", "b@bad.example"))
    assert hits.flush() == 0
    hits._store = store  # the store is back
    hits.record(taro, RuleHit("reject_from", "bad.example", "c@bad.example"))
    assert hits.flush() == 1
    with store.read() as session:
        ((_, hit_count, _),) = export_rows(session, taro, REJECT_FROM)
    assert hit_count == 3
    broken.dispose()


def test_an_older_flush_never_moves_last_hit_back(store: Store, example_domain: str) -> None:
    taro = _taro(store)
    with store.transaction() as session:
        add_values(session, taro, REJECT_FROM, ["bad.example"])
    late = datetime(2026, 11, 27, 12, tzinfo=UTC)
    for when in (late, late - timedelta(hours=1)):  # two milters flushing out of order
        hits = HitCounter(store, clock=lambda when=when: when)
        hits.record(taro, RuleHit("reject_from", "bad.example", "a@bad.example"))
        hits.flush()
    with store.read() as session:
        ((_, hit_count, last_hit_at),) = export_rows(session, taro, REJECT_FROM)
    assert (hit_count, last_hit_at) == (2, late)


def test_a_hit_time_in_another_zone_is_stored_as_the_same_instant(
    store: Store, example_domain: str
) -> None:
    taro = _taro(store)
    with store.transaction() as session:
        add_values(session, taro, REJECT_FROM, ["bad.example"])
    tokyo = timezone(timedelta(hours=9))
    for hour in (12, 13):  # 03:00 and 04:00 UTC
        hits = HitCounter(store, clock=lambda hour=hour: datetime(2026, 11, 27, hour, tzinfo=tokyo))
        hits.record(taro, RuleHit("reject_from", "bad.example", "a@bad.example"))
        hits.flush()
    with store.read() as session:
        ((_, _, last_hit_at),) = export_rows(session, taro, REJECT_FROM)
    assert last_hit_at == datetime(2026, 11, 27, 4, tzinfo=UTC)


def test_replace_keeps_the_counters_of_kept_entries(store: Store, example_domain: str) -> None:
    taro = _taro(store)
    with store.transaction() as session:
        add_values(session, taro, REJECT_FROM, ["kept.example", "gone.example"])
    hits = HitCounter(store)
    hits.record(taro, RuleHit("reject_from", "kept.example", "a@kept.example"))
    hits.flush()
    check = REJECT_FROM.check_entries(["KEPT.example", "new.example"], max_lines=None)
    with store.transaction() as session:
        replace_entries(session, taro, REJECT_FROM, check.entries)
    with store.read() as session:
        entries = {value: hits for value, hits, _ in export_rows(session, taro, REJECT_FROM)}
    assert entries == {"kept.example": 1, "new.example": 0}


def test_delete_up_to_spares_later_entries(store: Store, example_domain: str) -> None:
    taro = _taro(store)
    with store.transaction() as session:
        add_values(session, taro, ALLOW_FROM, ["a.example", "b.example"])
        _, last_id = count_and_last_id(session, taro, ALLOW_FROM)
        add_values(session, taro, ALLOW_FROM, ["c.example"])
        assert delete_up_to(session, taro, ALLOW_FROM, last_id) == 2
    with store.read() as session:
        assert values(session, taro, ALLOW_FROM) == ["c.example"]


def test_header_checks_are_replaced_as_a_set(store: Store, example_domain: str) -> None:
    taro = _taro(store)
    with store.transaction() as session:
        set_header_checks(session, taro, {HeaderCheck.FROM_MISSING, HeaderCheck.FROM_EMPTY})
    with store.transaction() as session:
        set_header_checks(session, taro, {HeaderCheck.FROM_EMPTY, HeaderCheck.SUBJECT_MISSING})
    with store.read() as session:
        assert header_checks(session, taro) == {HeaderCheck.FROM_EMPTY, HeaderCheck.SUBJECT_MISSING}


def test_upgrade_moves_from_entries_of_the_first_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    old = Store(url)
    with old.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO login_sites (id, name, url_prefix) VALUES (1, 's', '/supw')"
        )
        connection.exec_driver_sql(
            "INSERT INTO domains (id, name, site_id, smtp_host, pop_host) "
            "VALUES (1, 'example.jp', 1, 'smtp', 'pop')"
        )
        connection.exec_driver_sql(
            "INSERT INTO accounts (id, address, domain_id, password_hash, status, "
            "must_change_password, settings_version, created_at) "
            "VALUES (1, 'taro@example.jp', 1, 'x', 'active', 0, 1, '2026-11-01 00:00:00')"
        )
        for value in ("例え.jp", "xn--r8jz45g.jp"):  # one entry spelt twice: the oldest stays
            connection.exec_driver_sql(
                "INSERT INTO reject_from_entries (account_id, value, created_at) "
                "VALUES (1, ?, '2026-11-01 00:00:00')",
                (value,),
            )
    old.dispose()
    upgrade(url)
    new = Store(url)
    policy = load_policy(new, "taro@example.jp")
    new.dispose()
    assert policy is not None
    assert policy.reject_from.match("a@xn--r8jz45g.jp") == "例え.jp"
    assert len(policy.reject_from) == 1
