"""Scanners for transactions under test: the real clients, run when started (no pool)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sekisho.maildir import Ownership
from sekisho.milter.quarantine import Quarantine
from sekisho.milter.tagged_copy import TaggedCopies
from sekisho.milter.transaction import MailTransaction, PolicyLookup
from sekisho.milter.virus_report import VirusReports
from sekisho.scanners.background import Waiter
from sekisho.scanners.spam import spam_engine
from sekisho.scanners.virus import clamd_scanner
from sekisho.store.db import Store
from tests.conftest import CLAMD_UNUSED

T = TypeVar("T")
P = ParamSpec("P")


def at_once(scan: Callable[P, T]) -> Callable[P, Waiter[T]]:
    """A starter that scans on the caller's thread when started."""

    def start(*args: P.args, **kwargs: P.kwargs) -> Waiter[T]:
        verdict = scan(*args, **kwargs)
        return lambda: verdict

    return start


SPAM_UNUSED = "rspamd://127.0.0.1:9"  # a closed port: a test that scans spam gives a real one


def transaction_on(
    store: Store,
    policies: PolicyLookup,
    mail_root: Path,
    spam_engine_url: str = SPAM_UNUSED,
    clamd_url: str = CLAMD_UNUSED,
    **options: Any,
) -> MailTransaction:
    """A transaction on a real store and Maildirs with the real scanner clients."""
    return MailTransaction(
        policies,
        Quarantine(store, mail_root, Ownership()),
        spool_memory_bytes=1024,
        record_hit=lambda _account, _hit: None,
        scan_spam=at_once(spam_engine(spam_engine_url, timeout=10).scan),
        scan_virus=at_once(clamd_scanner(clamd_url, timeout=10).scan),
        virus_reports=VirusReports(store),
        tagged_copies=TaggedCopies(store, mail_root, Ownership()),
        **options,
    )
