"""Scanners for transactions under test: the real clients, run when started (no pool)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sekisho.scanners.background import Starter, Waiter

T = TypeVar("T")


def at_once(scan: Callable[[bytes], T]) -> Starter[T]:
    """A starter that scans on the caller's thread when started."""

    def start(message: bytes) -> Waiter[T]:
        verdict = scan(message)
        return lambda: verdict

    return start
