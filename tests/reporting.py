"""The fault and hostile-input figures at the end of every run, ``make test`` included.

Under ``-q -n 2`` a test's output is captured on an xdist worker and never shown. A test
records its figures with ``record_property`` instead (a report's user_properties travel
from the workers to the controller), and this plugin prints one line per test in the
terminal summary: sent / lost / duplicated / misrouted for a fault test, the peak memory
for a hostile-input one. A plugin, not tests/e2e/conftest.py: the controller of an xdist
run loads no conftest below tests/ when no path is given, so its hooks would never run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

FAULT_COUNTS = "fault_counts"
PEAK_MEMORY = "peak_memory"
Record = Callable[[str, object], None]  # the record_property fixture


def record_fault_counts(
    record: Record, sent: int, lost: int, duplicated: int, misrouted: int, retried: int
) -> str:
    """Records a fault test's counts (``sent`` is per recipient); returns the line."""
    line = (
        f"sent={sent} per recipient, retried={retried} lost={lost} "
        f"duplicated={duplicated} misrouted={misrouted}"
    )
    record(FAULT_COUNTS, line)
    return line


def record_peak_memory(record: Record, megabytes: float, how: str) -> str:
    """Records a hostile-input test's peak memory; ``how`` says what was measured."""
    line = f"peak {megabytes:.1f} MB {how}"
    record(PEAK_MEMORY, line)
    return line


class FiguresSummary:
    def __init__(self) -> None:
        self.figures: dict[str, dict[str, str]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name in (FAULT_COUNTS, PEAK_MEMORY):  # the last one recorded wins
                self.figures.setdefault(report.nodeid, {})[name] = str(value)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.figures:
            return
        terminalreporter.write_sep("=", "fault and hostile-input figures")
        for nodeid in sorted(self.figures):
            recorded = self.figures[nodeid]
            shown = [recorded[name] for name in (FAULT_COUNTS, PEAK_MEMORY) if name in recorded]
            terminalreporter.write_line(f"{nodeid}: {'; '.join(shown)}")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(FiguresSummary(), "sekisho-figures")
