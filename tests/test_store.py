"""The store on SQLite and PostgreSQL: accounts, wildcard domains, policy snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from sekisho.rules.lists import REJECT_FROM
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.lists import add_values, values
from sekisho.store.migrate import upgrade
from sekisho.store.passwords import verify_password
from sekisho.store.policies import PolicyCache, PolicyUnavailableError, load_policy


def test_account_with_temporary_password(store: Store, example_domain: str) -> None:
    with store.transaction() as session:
        created = accounts.add_account(session, "Taro@Example.JP")
    assert created.temporary
    assert created.address == "taro@example.jp"
    with store.read() as session:
        account = accounts.require_account(session, "taro@example.jp")
        assert account.must_change_password
        assert account.password_hash.startswith("{ARGON2ID}$argon2id$")
        assert verify_password(account.password_hash, created.password)
        assert accounts.authenticate(session, "taro@example.jp", created.password) is not None
        assert accounts.authenticate(session, "taro@example.jp", "wrong") is None


def test_suspended_account_cannot_authenticate(store: Store, example_domain: str) -> None:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        accounts.set_status(session, "taro@example.jp", "suspended")
    with store.read() as session:
        assert accounts.authenticate(session, "taro@example.jp", "secret123") is None


def test_wildcard_domain_serves_subdomains(store: Store) -> None:
    with store.transaction() as session:
        accounts.add_domain(session, "*.ms246.net", "ms246", "smtp.ms246.net", "pop.ms246.net")
        accounts.add_account(session, "a@abc.ms246.net", "secret123")
        with pytest.raises(accounts.AccountError, match="no domain serves"):
            accounts.add_account(session, "a@ms246.org", "secret123")
        domain = accounts.domain_for(session, "x@deep.abc.ms246.net")
        assert domain is not None
        assert domain.name == "*.ms246.net"


def test_duplicate_account_is_refused(store: Store, example_domain: str) -> None:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
    with (
        pytest.raises(accounts.AccountError, match="exists already"),
        store.transaction() as session,
    ):
        accounts.add_account(session, "TARO@example.jp", "secret123")


def _taro(store: Store) -> int:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        return accounts.require_account(session, "taro@example.jp").id


def test_policy_snapshot_holds_the_list(store: Store, example_domain: str) -> None:
    account_id = _taro(store)
    with store.transaction() as session:
        add_values(session, account_id, REJECT_FROM, ["bad.example"])
    policy = load_policy(store, "taro@example.jp")
    assert policy is not None
    assert policy.reject_from.match("x@bad.example") == "bad.example"
    assert load_policy(store, "nobody@example.jp") is None


def test_cache_trusts_a_snapshot_for_the_refresh_window(store: Store, example_domain: str) -> None:
    account_id = _taro(store)
    now = [0.0]
    cache = PolicyCache(store, refresh_seconds=1.0, clock=lambda: now[0])
    first = cache.get("taro@example.jp")
    assert first is not None
    assert not len(first.reject_from)
    with store.transaction() as session:
        add_values(session, account_id, REJECT_FROM, ["bad.example"])
    now[0] = 0.5
    assert cache.get("taro@example.jp") is first  # inside the window: no query at all
    now[0] = 1.5
    fresh = cache.get("taro@example.jp")
    assert fresh is not None
    assert fresh.reject_from.match("a@bad.example") == "bad.example"
    now[0] = 3.0
    assert cache.get("taro@example.jp") is fresh  # version unchanged: same snapshot kept


def test_cache_notices_an_account_added_again(store: Store, example_domain: str) -> None:
    account_id = _taro(store)
    with store.transaction() as session:
        add_values(session, account_id, REJECT_FROM, ["old.example"])
    cache = PolicyCache(store, refresh_seconds=0.0)
    cached = cache.get("taro@example.jp")
    assert cached is not None
    with store.transaction() as session:
        session.delete(accounts.require_account(session, "taro@example.jp"))
    new_id = _taro(store)
    with store.transaction() as session:
        add_values(session, new_id, REJECT_FROM, ["new.example"])  # the same version number again
    assert new_id != account_id  # ids are never reused
    policy = cache.get("taro@example.jp")
    assert policy is not None
    assert policy.version == cached.version
    assert policy.reject_from.match("a@new.example") == "new.example"
    assert policy.reject_from.match("a@old.example") is None


def test_cache_raises_when_the_store_goes_bad_under_it(tmp_path: Path) -> None:
    """A cached snapshot is not a licence to go on: once the store fails, lookups fail."""
    database = tmp_path / "gone.db"
    url = f"sqlite:///{database}"
    upgrade(url)
    local = Store(url)
    with local.transaction() as session:
        accounts.add_domain(session, "example.jp", "ms246", "smtp.example.jp", "pop.example.jp")
        accounts.add_account(session, "taro@example.jp", "secret123")
    cache = PolicyCache(local, refresh_seconds=0.0)
    assert cache.get("taro@example.jp") is not None
    local.dispose()
    for leftover in tmp_path.glob("gone.db*"):
        leftover.unlink()
    database.write_bytes(b"this is not a database" * 100)
    with pytest.raises(PolicyUnavailableError, match="not a database"):
        cache.get("taro@example.jp")
    local.dispose()


def test_cache_is_bounded(store: Store, example_domain: str) -> None:
    _taro(store)
    cache = PolicyCache(store, refresh_seconds=60.0, max_entries=3)
    for i in range(10):
        assert cache.get(f"stranger{i}@elsewhere.example") is None
    assert cache.get("taro@example.jp") is not None
    assert len(cache) == 3


def test_reject_values_are_unique_per_account(store: Store, example_domain: str) -> None:
    account_id = _taro(store)
    with store.transaction() as session:
        add_values(session, account_id, REJECT_FROM, ["a.example", "b.example"])
    with store.read() as session:
        assert values(session, account_id, REJECT_FROM) == ["a.example", "b.example"]
