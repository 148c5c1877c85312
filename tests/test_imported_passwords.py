"""An account imported with its earlier POP server's hash logs in to the web UI with its
original password, and that login replaces the hash by an ARGON2ID one of the same
password (the session stays open); a failed login changes nothing."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.models import Account
from sekisho.store.passwords import scheme_of, verify_password
from tests.imported_hashes import HASHES, PASSWORD
from tests.webclient import login


def give_hash(store: Store, address: str, stored: str) -> None:
    with store.transaction() as session:
        session.execute(
            update(Account)
            .where(Account.address == address)
            .values(password_hash=stored, must_change_password=False)
        )


def stored_hash(store: Store, address: str = "taro@example.jp") -> str:
    with store.read() as session:
        return accounts.require_account(session, address).password_hash


@pytest.mark.parametrize("scheme", ["SHA512-CRYPT", "SSHA", "PLAIN-MD5", "BLF-CRYPT"])
def test_the_web_login_takes_the_old_password_and_rehashes_it(
    client: FlaskClient, store: Store, scheme: str
) -> None:
    give_hash(store, "taro@example.jp", HASHES[scheme])
    assert "ログアウト" in login(client, "taro@example.jp", PASSWORD)
    now = stored_hash(store)
    assert scheme_of(now) == "ARGON2ID"
    assert verify_password(now, PASSWORD)
    # The session was bound to the new hash, so it goes on.
    assert client.get("/").status_code == 200


def test_a_wrong_password_leaves_the_imported_hash(client: FlaskClient, store: Store) -> None:
    give_hash(store, "taro@example.jp", HASHES["SSHA"])
    assert "ログアウト" not in login(client, "taro@example.jp", "taro1235")
    assert stored_hash(store) == HASHES["SSHA"]


def test_weak_schemes_are_counted(store: Store, example_domain: str) -> None:
    schemes = ["SSHA", "SSHA", "PLAIN-MD5", "ARGON2ID"]
    with store.transaction() as session:
        for number in range(len(schemes)):
            accounts.add_account(session, f"user{number}@example.jp", "secret123")
    for number, scheme in enumerate(schemes):
        give_hash(store, f"user{number}@example.jp", HASHES[scheme])
    with store.read() as session:
        assert accounts.weak_password_counts(session) == {"SSHA": 2, "PLAIN-MD5": 1}
