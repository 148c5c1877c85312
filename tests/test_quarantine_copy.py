"""A quarantine copy is written once per mailbox and message, whichever attempt writes it:
a milter that died between the file and its row leaves a file the retry takes over, and
so does a commit whose answer was lost with the store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sekisho.envelope import Envelope
from sekisho.maildir import JUNK_FOLDER, Ownership, keyed_name
from sekisho.milter.quarantine import Quarantine
from sekisho.rules.model import Policy, RuleHit
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.policies import load_policy
from sekisho.store.quarantine import quarantine_page

HIT = RuleHit("reject_from", "bad.example", "x@bad.example")
KEY = "5" * 64
MESSAGE = [b"From: x@bad.example\nSubject: offer\n\nbuy now\n"]


@pytest.fixture
def taro(store: Store, example_domain: str) -> Policy:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
    policy = load_policy(store, "taro@example.jp")
    assert policy is not None
    return policy


def put(store: Store, mail_root: Path, policy: Policy) -> None:
    Quarantine(store, mail_root, Ownership()).put(
        policy, HIT, "x@bad.example", "offer", "Q1", KEY, MESSAGE, Envelope()
    )


def junk_files(mail_root: Path) -> list[Path]:
    junk = mail_root / "example.jp" / "taro" / JUNK_FOLDER
    return sorted(p for sub in ("new", "cur") for p in (junk / sub).iterdir())


def test_a_file_left_by_a_dead_attempt_is_taken_over_not_doubled(
    store: Store, taro: Policy, tmp_path: Path
) -> None:
    put(store, tmp_path, taro)
    (left,) = junk_files(tmp_path)
    saved = tmp_path / "left-behind"
    shutil.copy(left, saved)
    with store.transaction() as session:  # as if the process died before the row
        for row in quarantine_page(session, taro.account_id).entries:
            session.delete(row)
    put(store, tmp_path, taro)
    put(store, tmp_path, taro)
    (copy,) = junk_files(tmp_path)
    assert copy.name == keyed_name(KEY)
    assert copy.read_bytes() == saved.read_bytes()
    with store.read() as session:
        page = quarantine_page(session, taro.account_id)
        assert [row.file_name for row in page.entries] == [copy.name]


def test_a_left_file_a_mail_program_has_seen_is_kept_and_recorded(
    store: Store, taro: Policy, tmp_path: Path
) -> None:
    put(store, tmp_path, taro)
    (left,) = junk_files(tmp_path)
    seen = left.parent.parent / "cur" / f"{left.name}:2,S"
    left.rename(seen)
    with store.transaction() as session:
        for row in quarantine_page(session, taro.account_id).entries:
            session.delete(row)
    put(store, tmp_path, taro)
    assert junk_files(tmp_path) == [seen]
    with store.read() as session:
        assert quarantine_page(session, taro.account_id).total == 1


def test_a_sqlite_store_commits_to_disk_before_it_answers(store: Store) -> None:
    """A committed row stands for mail Postfix has handed over: a power cut must not undo
    it (WAL's NORMAL may lose the last commits; FULL syncs each)."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL commits durably by default (synchronous_commit=on)")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL


class StoreLost(Store):
    """The store as the milter sees it when the connection to PostgreSQL drops at COMMIT:
    the server may have committed (``committed``) or not, and it answers nothing more."""

    def __init__(self, real: Store, committed: bool) -> None:  # no engine of its own
        self.real = real
        self.committed = committed
        self.down = False

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.real.transaction() as session:
            yield session
            if not self.committed:
                self.down = True
                raise self.gone()
        self.down = True
        raise self.gone()

    @contextmanager
    def read(self) -> Iterator[Session]:
        if self.down:
            raise self.gone()
        with self.real.read() as session:
            yield session

    @staticmethod
    def gone() -> OperationalError:
        return OperationalError("COMMIT", {}, Exception("server closed the connection"))


def rows(store: Store, policy: Policy) -> int:
    with store.read() as session:
        return quarantine_page(session, policy.account_id).total


@pytest.mark.parametrize("committed", [True, False], ids=["committed", "rolled-back"])
def test_a_commit_whose_answer_was_lost_keeps_its_copy_and_the_retry_lands_once(
    store: Store, taro: Policy, tmp_path: Path, committed: bool
) -> None:
    """The milter cannot tell whether the row exists: removing the copy would lose the
    mail when it does (the retry finds the row and writes no copy); keeping it loses
    nothing either way (the retry takes it over under its name, or finds it recorded)."""
    with pytest.raises(OperationalError):
        put(StoreLost(store, committed), tmp_path, taro)
    (kept,) = junk_files(tmp_path)
    assert rows(store, taro) == (1 if committed else 0)
    put(store, tmp_path, taro)  # the sender's retry, the store back
    assert junk_files(tmp_path) == [kept]
    assert rows(store, taro) == 1


def test_a_copy_whose_row_is_known_not_committed_is_removed(
    store: Store, taro: Policy, tmp_path: Path
) -> None:
    quarantine = Quarantine(store, tmp_path, Ownership())
    copy = quarantine.write_copy(
        taro, HIT, "x@bad.example", "offer", "Q1", KEY, MESSAGE, Envelope()
    )
    assert copy is not None

    def failing(_session: Session) -> int:
        raise OperationalError("INSERT", {}, Exception("statement failed"))

    with pytest.raises(OperationalError):
        quarantine.record_with([copy], failing)
    assert junk_files(tmp_path) == []
    assert rows(store, taro) == 0
