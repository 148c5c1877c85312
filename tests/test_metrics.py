"""Each process's /metrics page has its own figures only: the worker's the outbox and the
store's, the milter's its verdicts (a counter of the other process would read 0 forever)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sekisho import metrics
from sekisho.config import load_settings
from sekisho.devstack.ports import free_port
from sekisho.store.db import Store
from sekisho.worker import Worker

MILTER_ONLY = {
    "sekisho_messages",
    "sekisho_recipients",
    "sekisho_tempfails",
    "sekisho_scan_seconds",
}
WORKER_ONLY = {"sekisho_outbox_sent", "sekisho_outbox_backlog", "sekisho_quarantined_copies"}


def scrape(port: int) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {family.name for family in text_string_to_metric_families(text)}


def test_the_worker_page_has_the_worker_figures_and_none_of_the_milter(
    store: Store, tmp_path: Path
) -> None:
    port = free_port()
    settings = dataclasses.replace(
        load_settings(
            environ={"SEKISHO_SECRET_KEY": "test", "SEKISHO_DATABASE_URL": store.database_url}
        ),
        mail_root=tmp_path / "mail",
        reinject_smtp="127.0.0.1:9",
        worker_metrics_listen=f"127.0.0.1:{port}",
    )
    stop = threading.Event()
    running = threading.Thread(target=Worker(settings, store).run, args=(stop,))
    running.start()
    try:
        names = _scrape_when_up(port)
    finally:
        stop.set()
        running.join()
    assert names >= WORKER_ONLY
    assert "python_info" in names  # the process figures stay on both pages
    assert names.isdisjoint(MILTER_ONLY)
    with pytest.raises(urllib.error.URLError):
        scrape(port)  # closed with the worker


def test_the_milter_page_has_none_of_the_worker_figures() -> None:
    port = free_port()
    close = metrics.serve(f"127.0.0.1:{port}")
    try:
        names = scrape(port)
    finally:
        close()
    assert names >= MILTER_ONLY
    assert names.isdisjoint(WORKER_ONLY)


def test_a_refusal_is_counted_by_kind_and_reason() -> None:
    page = metrics.milter_page()
    spam_down = {"reason": "spam_scan_down"}
    too_big = {"reason": "message_too_big"}
    tempfails = page.get_sample_value("sekisho_tempfails_total", spam_down) or 0
    rejects = page.get_sample_value("sekisho_rejects_total", too_big) or 0
    metrics.count_refusal("tempfail", "spam_scan_down")
    metrics.count_refusal("reject", "message_too_big")
    assert page.get_sample_value("sekisho_tempfails_total", spam_down) == tempfails + 1
    assert page.get_sample_value("sekisho_rejects_total", too_big) == rejects + 1
    assert page.get_sample_value("sekisho_rejects_total", spam_down) is None


def test_the_metrics_module_does_not_reach_up_into_the_milter() -> None:
    """The worker imports sekisho.metrics too: it must not drag the milter layer along."""
    listed = "import sys, sekisho.metrics; print(*[m for m in sys.modules if 'milter' in m])"
    loaded = subprocess.run(
        [sys.executable, "-c", listed],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == ""


def _scrape_when_up(port: int) -> set[str]:
    for _ in range(100):
        try:
            return scrape(port)
        except urllib.error.URLError:
            threading.Event().wait(0.05)
    return scrape(port)
