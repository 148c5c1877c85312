"""Policy snapshots for the milter, cached per recipient and invalidated by version.

A snapshot is trusted for ``refresh_seconds``; after that one indexed query reads the
account's ``settings_version`` and the rules are reloaded only when it changed. A store
error propagates: the milter turns it into a temporary failure, never into "no rules".
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sekisho.rules.addresses import SuffixMatcher, normalize_address
from sekisho.rules.lists import ALLOW_FROM, REJECT_FROM, REJECT_SUBJECT
from sekisho.rules.model import Policy
from sekisho.rules.subjects import SubstringMatcher
from sekisho.rules.validate import ListEntry
from sekisho.store.abroad import unlocked_until
from sekisho.store.auto_reply import auto_reply
from sekisho.store.db import IoRunner, Store, run_here
from sekisho.store.forwarding import forward_targets
from sekisho.store.header_rules import header_checks
from sekisho.store.lists import match_pairs
from sekisho.store.models import Account
from sekisho.store.spam_settings import spam_setting
from sekisho.store.virus_settings import virus_scan_enabled


def _identity(session: Session, address: str) -> tuple[int, int] | None:
    """(account id, settings version): an account deleted and added again is a new one."""
    row = session.execute(
        select(Account.id, Account.settings_version).where(Account.address == address)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def load_policy(store: Store, address: str) -> Policy | None:
    """The current snapshot of ``address``, or None when it is not one of our mailboxes."""
    with store.read() as session:
        identity = _identity(session, address)
        if identity is None:
            return None
        account_id, version = identity
        return Policy(
            address=address,
            account_id=account_id,
            version=version,
            reject_from=SuffixMatcher.from_keys(match_pairs(session, account_id, REJECT_FROM)),
            reject_subject=SubstringMatcher.build(
                ListEntry(value, key)
                for key, value in match_pairs(session, account_id, REJECT_SUBJECT)
            ),
            reject_header=header_checks(session, account_id),
            allow_from=SuffixMatcher.from_keys(match_pairs(session, account_id, ALLOW_FROM)),
            spam=spam_setting(session, account_id),
            virus_scan=virus_scan_enabled(session, account_id),
            forward_to=forward_targets(session, account_id),
            auto_reply=auto_reply(session, account_id),
            abroad_unlocked_until=unlocked_until(session, account_id),
        )


def current_version(store: Store, address: str) -> tuple[int, int] | None:
    with store.read() as session:
        return _identity(session, address)


class PolicyUnavailableError(RuntimeError):
    """The store could not be read: the caller must not treat this as "no rules"."""


@dataclass
class _Entry:
    policy: Policy | None
    checked_at: float


class PolicyCache:
    """Thread-safe (one milter thread per SMTP connection) and bounded: the least recently
    used snapshots are dropped beyond ``max_entries``."""

    def __init__(
        self,
        store: Store,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 100_000,
        io: IoRunner[Any] = run_here,
    ) -> None:
        self._store = store
        self._refresh = refresh_seconds
        self._clock = clock
        self._max_entries = max_entries
        self._io = io
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, address: str) -> Policy | None:
        try:
            return self._get(normalize_address(address))
        except SQLAlchemyError as error:
            raise PolicyUnavailableError(str(error).splitlines()[0]) from error

    def _get(self, key: str) -> Policy | None:
        now = self._clock()
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
        if cached is not None and now - cached.checked_at < self._refresh:
            return cached.policy
        if cached is not None:
            known = cached.policy
            identity = (known.account_id, known.version) if known is not None else None
            if self._io(lambda: current_version(self._store, key)) == identity:
                self._remember(key, _Entry(known, now))
                return known
        fresh: Policy | None = self._io(lambda: load_policy(self._store, key))
        self._remember(key, _Entry(fresh, now))
        return fresh

    def _remember(self, key: str, entry: _Entry) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
