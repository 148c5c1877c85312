"""Scans started now and waited for later, so the virus and the spam scan run together.

A starter takes the scan's arguments (the message, for spam also its envelope) and
returns a waiter; calling the waiter gives the verdict or
raises. ``in_background`` runs the scan on a thread pool and bounds the whole scan, not
just each socket operation: an engine that trickles its answer a byte at a time passes
every socket timeout and would hold the message (and Postfix's milter_timeout) for far
longer. When the time is up the waiter raises, and the straggler ends at its next socket
timeout, its verdict unused.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Executor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import ParamSpec, TypeVar

from sekisho.scanners.message import MessageSource

T = TypeVar("T")
P = ParamSpec("P")
Waiter = Callable[[], T]
Starter = Callable[[MessageSource], Waiter[T]]


def in_background(
    threads: Executor,
    timeout: float,
    scan: Callable[P, T],
    timed_out: Callable[[str], Exception],
) -> Callable[P, Waiter[T]]:
    def start(*args: P.args, **kwargs: P.kwargs) -> Waiter[T]:
        began = threading.Event()

        def task() -> T:
            began.set()
            return scan(*args, **kwargs)

        future = threads.submit(task)

        def wait() -> T:
            # The time counts from the scan's start: a busy pool is waited for on its own
            # (up to the same timeout), not charged to the engine.
            if not began.wait(timeout):
                future.cancel()
                raise timed_out(f"no free scan thread within {timeout:g} s")
            try:
                return future.result(timeout=timeout)
            except FutureTimeout as error:
                future.cancel()
                raise timed_out(f"no verdict within {timeout:g} s") from error

        return wait

    return start
