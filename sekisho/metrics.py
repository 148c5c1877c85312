"""Prometheus metrics of the milter and the worker, each on a local port of its own and
each with only its own figures (a milter counter on the worker's page would read 0 forever).

The milter counts what it decided (messages by verdict, recipients by outcome and rule,
4xx and 5xx answers by reason, spam verdicts, forwards, queued auto-replies) and how long
each scan took. The worker counts what it sent and what failed, and reads the outbox
backlog and the quarantine size from the store when scraped, so every worker of a
cluster reports the same shared figures. Off unless ``milter_metrics_listen`` or
``worker_metrics_listen`` is set (``127.0.0.1:9465``).
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from typing import Literal, ParamSpec, TypeVar

from prometheus_client import (
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from sekisho.store import outbox
from sekisho.store.db import Store
from sekisho.store.quarantine import held_count

T = TypeVar("T")
P = ParamSpec("P")

# Each counter is made outside any registry and put on the page of the process that counts
# it (milter_page, worker_page).
MESSAGES = Counter(
    "sekisho_messages", "Messages the milter finished, by verdict", ["verdict"], registry=None
)
RECIPIENTS = Counter(
    "sekisho_recipients",
    "Filtered recipients by outcome (deliver, quarantine, virus) and the rule that decided",
    ["outcome", "rule"],
    registry=None,
)
FORWARDED = Counter("sekisho_forwarded", "Forwarding addresses added to messages", registry=None)
AUTO_REPLIES_QUEUED = Counter("sekisho_auto_replies_queued", "Auto-replies queued", registry=None)
TAGGED_COPIES = Counter(
    "sekisho_tagged_copies",
    "Recipients given a [spam]-tagged copy of their own (written into their inbox)",
    registry=None,
)
SPAM_VERDICTS = Counter("sekisho_spam_verdicts", "Spam scans by verdict", ["spam"], registry=None)
TEMPFAILS = Counter(
    "sekisho_tempfails", "4xx answers (the sender retries), by reason", ["reason"], registry=None
)
REJECTS = Counter("sekisho_rejects", "5xx answers, by reason", ["reason"], registry=None)
SCAN_SECONDS = Histogram(
    "sekisho_scan_seconds",
    "Time one scan took, by scanner",
    ["scanner"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=None,
)
SCAN_ERRORS = Counter(
    "sekisho_scan_errors", "Scans without a verdict, by scanner", ["scanner"], registry=None
)
OUTBOX_SENT = Counter(
    "sekisho_outbox_sent", "Outbox mail Postfix took, by kind", ["kind"], registry=None
)
OUTBOX_FAILED = Counter(
    "sekisho_outbox_failed_attempts", "Outbox sends that failed, by kind", ["kind"], registry=None
)


def milter_page() -> CollectorRegistry:
    return _page(
        MESSAGES,
        RECIPIENTS,
        FORWARDED,
        AUTO_REPLIES_QUEUED,
        TAGGED_COPIES,
        SPAM_VERDICTS,
        TEMPFAILS,
        REJECTS,
        SCAN_SECONDS,
        SCAN_ERRORS,
    )


def worker_page(store: Store) -> CollectorRegistry:
    return _page(OUTBOX_SENT, OUTBOX_FAILED, StoreFigures(store))


def _page(*collectors: Collector) -> CollectorRegistry:
    """A /metrics page of ``collectors`` and the process's own figures (CPU, memory, GC)."""
    registry = CollectorRegistry()
    # Each of these registers itself with the registry it is given.
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    for collector in collectors:
        registry.register(collector)
    return registry


def serve(listen: str, page: CollectorRegistry | None = None) -> Callable[[], None]:
    """``page`` (milter_page when None) as /metrics on ``host:port``, in a daemon thread;
    nothing when ``listen`` is empty. Returns what closes it again."""
    if not listen:
        return lambda: None
    host, _, port = listen.rpartition(":")
    server, thread = start_http_server(
        int(port), addr=host or "127.0.0.1", registry=page or milter_page()
    )

    def close() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return close


def count_message(verdict: str) -> None:
    """A message ended: accept, discard, tempfail or reject."""
    MESSAGES.labels(verdict).inc()


def count_refusal(kind: Literal["tempfail", "reject"], reason: str) -> None:
    """Any 4xx (tempfail) or 5xx (reject) the milter gave, for a message or (at RCPT) one
    recipient; ``reason`` is its short name (store_down, spam_scan_down …)."""
    (TEMPFAILS if kind == "tempfail" else REJECTS).labels(reason).inc()


def count_tally(tally: Tally[str]) -> None:
    """A transaction's tally (sekisho.milter.transaction.MailTransaction.tally)."""
    for key, number in tally.items():
        kind, _, detail = key.partition(":")
        if kind in {"deliver", "quarantine", "virus"}:
            RECIPIENTS.labels(kind, detail).inc(number)
        elif kind == "spam":
            SPAM_VERDICTS.labels(detail).inc(number)
        elif kind == "forward":
            FORWARDED.inc(number)
        elif kind == "auto_reply":
            AUTO_REPLIES_QUEUED.inc(number)
        elif kind == "tagged_copy":
            TAGGED_COPIES.inc(number)


def timed(scanner: str, scan: Callable[P, T]) -> Callable[P, T]:
    """``scan`` observed: its duration, and an error when it raised."""

    def observed(*args: P.args, **kwargs: P.kwargs) -> T:
        started = time.monotonic()
        try:
            return scan(*args, **kwargs)
        except Exception:
            SCAN_ERRORS.labels(scanner).inc()
            raise
        finally:
            SCAN_SECONDS.labels(scanner).observe(time.monotonic() - started)

    return observed


class StoreFigures(Collector):
    """The outbox backlog and the quarantine size, read from the store at each scrape."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._store.read() as session:
            waiting = outbox.backlog(session)
            held = held_count(session)
        backlog = GaugeMetricFamily(
            "sekisho_outbox_backlog", "Outbox rows not sent yet, by kind", labels=["kind"]
        )
        for kind in (outbox.QUARANTINE_NOTICE, outbox.VIRUS_REPORT, outbox.AUTO_REPLY):
            backlog.add_metric([kind], waiting.get(kind, 0))
        yield backlog
        yield GaugeMetricFamily(
            "sekisho_quarantined_copies", "Quarantined copies not released or purged", held
        )
