"""Prometheus metrics through real Postfix: the milter counts verdicts, recipients by rule
and 4xx answers by reason; the worker reads the quarantine size and outbox backlog from
the store."""

from __future__ import annotations

import smtplib
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sekisho.devstack.ports import free_port
from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_mailflow import import_settings

MILTER_METRICS = free_port()
WORKER_METRICS = free_port()


@pytest.fixture(scope="module")
def metrics_stack(run_root: Path) -> Iterator[MailHarness]:
    yield from start_harness(
        run_root / "metrics",
        with_worker=True,
        extra_environment={
            "SEKISHO_MILTER_METRICS_LISTEN": f"127.0.0.1:{MILTER_METRICS}",
            "SEKISHO_WORKER_METRICS_LISTEN": f"127.0.0.1:{WORKER_METRICS}",
        },
    )


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_the_milter_and_the_worker_report_what_happened(metrics_stack: MailHarness) -> None:
    mail = metrics_stack
    mail.reset()
    mail.add_account("taro@example.jp")
    mail.add_account("hanako@example.jp")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})
    # The stack's spam engine is a closed port: hanako's mail is deferred, never unscanned.
    import_settings(mail, "hanako@example.jp", {"spam_scan": {"enabled": True}})
    mail.send("friend@ok.example", ["taro@example.jp"], subject="delivered")
    mail.send("x@bad.example", ["taro@example.jp"], subject="caught")
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        mail.send("friend@ok.example", ["hanako@example.jp"], subject="deferred")
    assert deferred.value.smtp_code == 451
    mail.wait_for_files("example.jp/taro/.Junk/new")
    mail.wait_until_delivered()

    milter = scrape(MILTER_METRICS)
    assert milter[("sekisho_messages_total", (("verdict", "accept"),))] == 1
    assert milter[("sekisho_messages_total", (("verdict", "discard"),))] == 1
    assert milter[("sekisho_messages_total", (("verdict", "tempfail"),))] == 1
    assert milter[("sekisho_tempfails_total", (("reason", "spam_scan_down"),))] == 1
    assert milter[("sekisho_recipients_total", (("outcome", "deliver"), ("rule", "")))] == 1
    quarantined = ("sekisho_recipients_total", (("outcome", "quarantine"), ("rule", "reject_from")))
    assert milter[quarantined] == 1
    assert milter[("sekisho_scan_seconds_count", (("scanner", "spam"),))] == 1
    assert milter[("sekisho_scan_errors_total", (("scanner", "spam"),))] == 1

    worker = scrape(WORKER_METRICS)
    assert worker[("sekisho_quarantined_copies", ())] == 1
    assert worker[("sekisho_outbox_backlog", (("kind", "quarantine_notice"),))] == 0
