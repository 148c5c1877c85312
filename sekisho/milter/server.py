"""Start the milter: build the shared services, open the socket, run libmilter's loop."""

from __future__ import annotations

import grp
import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import Milter
import milter

from sekisho import metrics
from sekisho.config import Settings, SpamOnFailure, local_secret_key
from sekisho.maildir import Ownership
from sekisho.milter.adapter import SekishoMilter
from sekisho.milter.auto_reply import AutoReplies
from sekisho.milter.collected import content_limits
from sekisho.milter.quarantine import Quarantine
from sekisho.milter.srs import PostsrsdLookup
from sekisho.milter.tagged_copy import TaggedCopies
from sekisho.milter.transaction import MailTransaction, SubmissionRules
from sekisho.milter.virus_report import VirusReports
from sekisho.scanners.background import in_background
from sekisho.scanners.countries import country_lookup
from sekisho.scanners.spam import SpamScanError, spam_engine
from sekisho.scanners.virus import VirusScanError, clamd_scanner
from sekisho.store.db import Store
from sekisho.store.delivery_log import DeliveryLog
from sekisho.store.hits import HitCounter
from sekisho.store.policies import PolicyCache

log = logging.getLogger("sekisho.milter")
T = TypeVar("T")
# How stale the hit counters and 受信ログ shown in the UI may be; one statement per
# counter, and one INSERT of log rows, per flush.
HIT_FLUSH_SECONDS = 2.0


def libmilter_address(listen: str) -> str:
    """Postfix syntax (``inet:127.0.0.1:8890``) → libmilter syntax (``inet:8890@127.0.0.1``)."""
    kind, _, rest = listen.partition(":")
    if kind == "unix" and rest:
        return f"unix:{Path(rest).absolute()}"
    if kind == "inet":
        host, _, port = rest.rpartition(":")
        if host and port.isdigit():
            return f"inet:{port}@{host}"
    raise ValueError(f"milter_listen: {listen!r} is neither unix:/path nor inet:host:port")


def serve(settings: Settings) -> None:
    store = Store(settings.database_url)
    # Store and Maildir I/O runs on Python's own threads, never on libmilter's: under
    # load, SQLite work on libmilter's threads crashed the interpreter (segfaults in
    # libpython, reproduced with bench/ at 16 sessions with quarantining; none since).
    store_threads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="store")

    def on_store_thread(work: Callable[[], T]) -> T:
        return store_threads.submit(work).result()

    policies = PolicyCache(store, settings.policy_refresh_seconds, io=on_store_thread)
    ownership = Ownership(settings.mailbox_uid_gid)
    quarantine = Quarantine(
        store,
        settings.mail_root.absolute(),
        ownership,
        io=on_store_thread,
        retention=timedelta(days=settings.quarantine_days),
        notice_digest_minutes=settings.notice_digest_minutes,
    )

    hits = HitCounter(store)
    deliveries = delivery_log(settings, store)
    stop_flushing = threading.Event()
    flushers = [hits.run_every(HIT_FLUSH_SECONDS, stop_flushing)]
    if deliveries is not None:
        flushers.append(deliveries.run_every(HIT_FLUSH_SECONDS, stop_flushing))

    # Scans wait on their engine's socket; like store I/O they run on Python's own
    # threads, the virus and the spam scan of one message side by side.
    scan_threads = ThreadPoolExecutor(max_workers=32, thread_name_prefix="scan")
    scan_spam = in_background(
        scan_threads,
        settings.spam_timeout,
        metrics.timed("spam", spam_engine(settings.spam_engine, settings.spam_timeout).scan),
        SpamScanError,
    )
    scan_virus = in_background(
        scan_threads,
        settings.clamd_timeout,
        metrics.timed("clamd", clamd_scanner(settings.clamd, settings.clamd_timeout).scan),
        VirusScanError,
    )
    virus_reports = VirusReports(store, io=on_store_thread)
    tagged_copies = TaggedCopies(store, settings.mail_root.absolute(), ownership, on_store_thread)
    auto_replies = AutoReplies(store, io=on_store_thread)
    submission_rules = SubmissionRules(
        country_lookup(settings.geoip_db),
        settings.home_country,
        settings.local_networks_are_domestic,
    )

    trace_key = local_secret_key(settings).encode()
    limits = content_limits(settings)

    def new_transaction() -> MailTransaction:
        return MailTransaction(
            policies.get,
            quarantine,
            settings.spool_memory_bytes,
            hits.record,
            scan_spam,
            scan_virus,
            virus_reports,
            tagged_copies,
            deliver_when_spam_scan_fails=settings.spam_on_failure is SpamOnFailure.DELIVER,
            trust_unchecked_senders=settings.allow_list_trusts_unchecked,
            submission_rules=submission_rules,
            auto_replies=auto_replies,
            rewrite_sender=PostsrsdLookup(settings.srs_lookup).forward
            if settings.srs_lookup
            else None,
            trace_key=trace_key,
            record_deliveries=deliveries.record if deliveries is not None else None,
            content_limits=limits,
        )

    Milter.factory = lambda: SekishoMilter(new_transaction)
    register_callbacks("sekisho")
    address = libmilter_address(settings.milter_listen)
    if address.startswith("unix:"):
        Path(address.removeprefix("unix:")).parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    milter.setconn(address)
    milter.settimeout(settings.milter_timeout)
    milter.opensocket(True)
    if address.startswith("unix:"):
        _open_unix_socket_to_group(
            Path(address.removeprefix("unix:")), settings.milter_socket_group
        )
    else:
        disable_nagle_on_listener(int(address.split(":")[1].split("@")[0]))
    log.info(
        "milter_listening address=%s database=%s",
        settings.milter_listen,
        store.engine.url.render_as_string(hide_password=True),
    )
    metrics.serve(settings.milter_metrics_listen)
    try:
        milter.main()
    finally:
        stop_flushing.set()
        for flusher in flushers:
            flusher.join()  # it writes the last counts and log rows


def delivery_log(settings: Settings, store: Store) -> DeliveryLog | None:
    """受信ログ's writer; None when the operator keeps no log (``delivery_log_days = 0``),
    and then the transactions hand over nothing at all."""
    return DeliveryLog(store) if settings.delivery_log_days > 0 else None


def register_callbacks(name: str) -> None:
    """The callback wiring of Milter.runmilter, which gives no hook between open and main."""
    milter.set_connect_callback(Milter.connect_callback)
    milter.set_helo_callback(lambda ctx, host: ctx.getpriv().hello(host))
    milter.set_envfrom_callback(lambda ctx, *b: ctx.getpriv().envfrom_bytes(*b))
    milter.set_envrcpt_callback(lambda ctx, *b: ctx.getpriv().envrcpt_bytes(*b))
    milter.set_header_callback(lambda ctx, f, v: ctx.getpriv().header_bytes(f, v))
    milter.set_eoh_callback(lambda ctx: ctx.getpriv().eoh())
    milter.set_body_callback(lambda ctx, chunk: ctx.getpriv().body(chunk))
    milter.set_eom_callback(lambda ctx: ctx.getpriv().eom())
    milter.set_abort_callback(lambda ctx: ctx.getpriv().abort())
    milter.set_close_callback(Milter.close_callback)
    milter.register(
        name,
        data=lambda ctx: ctx.getpriv().data(),
        unknown=lambda ctx, cmd: ctx.getpriv().unknown(cmd),
        negotiate=Milter.negotiate_callback,
    )


def _open_unix_socket_to_group(path: Path, group: str) -> None:
    """Postfix's smtpd runs as ``postfix``: let that group connect, nobody else."""
    path.chmod(0o660)
    gid = next((g.gr_gid for g in grp.getgrall() if g.gr_name == group), None)
    if gid is None:
        # Never fall back to a world-writable socket: Postfix defers mail until fixed.
        log.error("milter_socket_group_missing group=%s socket=%s", group, path)
        return
    os.chown(path, -1, gid)


def disable_nagle_on_listener(port: int) -> None:
    """Set TCP_NODELAY on libmilter's listening socket; Linux copies it to accepted sockets.

    Without it, replies sent back to back (delrcpt then the verdict, when a recipient is
    quarantined) wait on a delayed ACK: 166 against 266 msg/s in bench/ here.
    """
    for name in os.listdir("/proc/self/fd"):
        try:
            duplicate = os.dup(int(name))
        except OSError:  # the descriptor listdir itself read with, closed by now
            continue
        try:
            probe = socket.socket(fileno=duplicate)
        except OSError:
            os.close(duplicate)
            continue
        with probe:
            try:
                listening = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                if listening and probe.family == socket.AF_INET and probe.getsockname()[1] == port:
                    probe.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                continue
