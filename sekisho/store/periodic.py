"""A background thread that runs one step every few seconds, and once more at the end."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("sekisho.store")


def run_every(
    step: Callable[[], object], seconds: float, stop: threading.Event, name: str
) -> threading.Thread:
    """Run ``step`` every ``seconds`` until ``stop`` is set, then once more; join the
    thread returned to be sure the last run happened."""

    def step_logged() -> None:
        try:
            step()
        except Exception:  # the next run must come whatever this one ran into
            log.exception("%s_failed", name)

    def loop() -> None:
        while not stop.wait(seconds):
            step_logged()
        step_logged()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread
