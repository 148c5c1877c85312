"""Each process's /metrics page has its own figures only: the worker's the outbox and the
store's, the milter's its verdicts (a counter of the other process would read 0 forever)."""

from __future__ import annotations

import dataclasses
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


def _scrape_when_up(port: int) -> set[str]:
    for _ in range(100):
        try:
            return scrape(port)
        except urllib.error.URLError:
            threading.Event().wait(0.05)
    return scrape(port)
