"""受信ログ's cost: the milter with the log on and off, and the table at 10 million rows.

Issue 18 asks of the delivery log (table delivery_log, sekisho.store.delivery_log): written
for every mail, so designed for volume — 10 million rows, indexed, pruned with the purge —
and writing it costs nothing measurable on the milter's throughput. Two parts:

Throughput (the default, ~2 minutes). Two private Postfix instances (sekisho.devstack),
each with its own `sekisho milter` and store, rules only (every recipient with
peers.py's 1,000 From and 1,000 Subject entries the mail misses, so every copy is
delivered):

  log-on    delivery_log_days = 7: one row per recipient, written by the flush thread
  log-off   delivery_log_days = 0: the milter hands over nothing

The load is smtp-source (bench/milter_throughput.py's batch, timed to the last delivery),
--recipients per message; the two setups alternate, --rounds times, each round starting
with the other one, and the median round is reported. After each batch, outside the
timing, the benchmark checks that every copy is in its INBOX and waits for the log's
flush: log-on must then have one row per recipient of the batch, log-off none. The CPU
per message (from /proc: the Postfix instance, the milter, smtp-source) is counted from
the batch's start to that check, so it includes the flush of the batch's rows.

Volume (--volume, ~3 minutes). A SQLite store with the schema of the migrations,
--accounts mailboxes and --rows delivery_log rows spread over the last 7 days (one heavy
mailbox gets --heavy-share of them, the others the rest evenly), bulk-inserted with
sqlite3 (index dropped and built again after, as a restore would). Then, for a typical
mailbox and the heavy one, --requests times each, what the 受信ログ page reads from the
store (sekisho.webui.delivery_log.log_page, one session per request, as the page): the
first page, the last page, a sender search and a subject search; p50 / p95 / max in ms.
Last the purge as the worker runs it (sekisho.store.delivery_log.forget_old, hourly):
one hour of rows past their days, then one day, each while a writer on its own connection
flushes a 受信ログ row every 50 ms; the purge's transactions and the writer's waits in ms.

    cd bench
    ../.venv/bin/python delivery_log.py [--messages 1000] [--rounds 6] [--recipients 2]
    ../.venv/bin/python delivery_log.py --volume [--rows 10000000] [--accounts 2000]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median, quantiles

from milter_throughput import (
    DOMAIN,
    Batch,
    Instance,
    Load,
    LogCounter,
    Setup,
    Summary,
    cpu_seconds,
    last_line,
    open_store,
    play_rounds,
    run_directory,
    start_instance,
    warn_if_noisy,
)
from peers import fill_store
from scan_throughput import inbox_files, new_inbox_files, timed_load
from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session

from sekisho.milter.server import HIT_FLUSH_SECONDS
from sekisho.rules.model import DELIVER, Message
from sekisho.store.accounts import add_domain
from sekisho.store.db import Store
from sekisho.store.delivery_log import DeliveryLog, Mailed, forget_old
from sekisho.store.migrate import upgrade
from sekisho.store.models import Account, DeliveryLogEntry
from sekisho.webui.delivery_log import log_page

SETUPS = (Setup("log-on", "sekisho"), Setup("log-off", "sekisho"))
DAYS = {"log-on": 7, "log-off": 0}  # delivery_log_days of each
ROWS_WAIT = 20.0  # seconds the log-on rows may take to be written after the last delivery


# --- throughput ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Logged:
    """A setup's store, and the delivery_log rows each of its batches left."""

    store: Store
    rows: list[int] = field(default_factory=list)


def count_rows(store: Store) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(DeliveryLogEntry)) or 0


def settled_rows(store: Store, before: int, expected: int) -> int:
    """The rows the batch left, once the flush thread has written them: ``expected``
    within ROWS_WAIT, or, when none are expected, what a flush interval and a half
    brought."""
    deadline = time.monotonic() + (ROWS_WAIT if expected else 1.5 * HIT_FLUSH_SECONDS)
    while True:
        rows = count_rows(store) - before
        if (expected and rows >= expected) or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def run_batch(instance: Instance, logged: Logged, load: Load) -> Batch:
    """One batch, timed to its last delivery (milter_throughput's Batch); its CPU counted
    on to the check of its rows, so that it includes their flush."""
    name = instance.setup.name
    addresses = load.addresses
    expected = load.messages * load.recipients
    files_before = inbox_files(instance.mail_root, addresses)
    rows_before = count_rows(logged.store)
    cpu_before = cpu_seconds(instance)
    log = LogCounter(instance.postfix.log_file)
    timeout = 60 + load.messages * 0.1
    timed = timed_load(instance.postfix, name, load, log, expected, timeout, lambda: ())
    # --- outside the timing: every copy delivered, and the log's rows written (or not) ---
    new_inbox_files(instance.mail_root, name, addresses, files_before, expected)
    wanted = expected if DAYS[name] else 0
    rows = settled_rows(logged.store, rows_before, wanted)
    if rows != wanted:
        raise RuntimeError(f"{name}: {rows} delivery_log rows, {wanted} expected")
    logged.rows.append(rows)
    postfix_after, milter_after = cpu_seconds(instance)
    return Batch(
        messages=load.messages,
        accepted=timed.accepted,
        delivered=timed.delivered,
        quarantined=0,
        postfix_cpu=postfix_after - cpu_before[0],
        milter_cpu=milter_after - cpu_before[1],
        client_cpu=timed.client_cpu,
    )


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def report_throughput(
    instances: list[Instance], logged: dict[str, Logged], load: Load, rounds: int, loads: str
) -> None:
    print()
    print(
        f"{load.messages} messages of {load.size} body bytes x {load.recipients} recipients "
        f"per batch, {load.sessions} smtp-source sessions, median of {rounds} rounds; "
        f"{os.cpu_count()} CPUs"
    )
    print(loads)
    header = (
        f"{'':<8} {'':>4} {'delivered':>9}   {'CPU ms per message':>27}  {'rows per':>8}\n"
        f"{'setup':<8} {'days':>4} {'msg/s':>9}   {'postfix':>7} {'milter':>6} {'client':>6} "
        f"{'total':>5}  {'batch':>8}  delivered msg/s by round"
    )
    print(header)
    print("-" * len(header.splitlines()[1]))
    summaries = {i.setup.name: Summary.of(i.batches) for i in instances}
    for instance in instances:
        s = summaries[instance.setup.name]
        print(
            f"{instance.setup.name:<8} {DAYS[instance.setup.name]:>4} {s.delivered_rate:>9.0f}   "
            f"{s.postfix_ms:>7.2f} {s.milter_ms:>6.3f} {s.client_ms:>6.2f} {s.total_ms:>5.2f}  "
            f"{logged[instance.setup.name].rows[0]:>8}  "
            + " ".join(f"{b.messages / b.delivered:.0f}" for b in instance.batches)
        )
    if {"log-on", "log-off"} <= summaries.keys():
        on, off = summaries["log-on"], summaries["log-off"]
        print(
            f"\nlog-on / log-off: delivered msg/s {on.delivered_rate / off.delivered_rate:.3f}, "
            f"CPU cost {off.total_ms / on.total_ms:.3f} (1.000: the same), milter CPU "
            f"{on.milter_ms - off.milter_ms:+.3f} ms per message"
        )
        by_round = [
            (a.messages / a.delivered) / (b.messages / b.delivered)
            for a, b in zip(instances[0].batches, instances[1].batches, strict=False)
        ]
        print(
            f"{instances[0].setup.name} / {instances[1].setup.name} by round: "
            + " ".join(f"{ratio:.3f}" for ratio in by_round)
        )
    print(
        "\n(every copy of every batch was checked delivered to its INBOX; log-on left one "
        "row per recipient, log-off none)"
    )
    warn_if_noisy(instances)


def throughput(options: argparse.Namespace) -> None:
    load = Load(options.messages, options.sessions, options.recipients, options.size)
    warm_up = Load(options.sessions * 4, options.sessions, options.recipients, options.size)
    before = uptime()
    with run_directory(options.keep) as root, ExitStack() as stack:
        instances: list[Instance] = []
        logged: dict[str, Logged] = {}
        for setup in SETUPS:
            print(f"starting {setup.name} ...", flush=True)
            folder = root / f"store-{setup.name}"
            folder.mkdir(mode=0o755)
            store_url, store_path = open_store(folder, load.addresses, stack)
            fill_store(store_url, load.addresses, scans=False)
            settings = {"SEKISHO_DELIVERY_LOG_DAYS": str(DAYS[setup.name])}
            instance = start_instance(setup, root, store_url, store_path, stack, settings)
            store = Store(store_url)
            stack.callback(store.dispose)
            logged[setup.name] = Logged(store)
            try:
                run_batch(instance, logged[setup.name], warm_up)
            except (TimeoutError, RuntimeError) as error:
                sys.exit(f"{setup.name} does not work: {last_line(error)}")
            logged[setup.name].rows.clear()  # the warm-up's
            instances.append(instance)
        play_rounds(instances, options.rounds, lambda i: run_batch(i, logged[i.setup.name], load))
        if len(instances) < len(SETUPS):
            sys.exit("a setup failed: its figures are missing, see above")
        loads = f"before: {before}\nafter:  {uptime()}"
        report_throughput(instances, logged, load, options.rounds, loads)


# --- volume ----------------------------------------------------------------------------------

SENDER_DOMAINS = 600
SUBJECTS = (
    "【{n}】夏のセール開催中",
    "ご注文の確認 #{n}",
    "Re: 打ち合わせの件（{n}）",
    "Your invoice {n} is ready",
    "Weekly newsletter no. {n}",
    "=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?= {n}",
    "Meeting notes {n}",
    "お知らせ：メンテナンスのご案内 {n}",
)
SENDER_SEARCH = "bank"  # ~2 % of the senders
SUBJECT_SEARCH = "セール"  # one subject form in eight
# (outcome, rule, entry, matched, cumulative share): what the milter writes, roughly.
OUTCOMES = (
    ("inbox", "", "", "", 0.80),
    ("quarantine", "reject_from", "spam.example", "offers@spam.example", 0.93),
    ("quarantine", "spam", "12.5 / 6.0", "rspamd", 0.97),
    ("tagged", "spam", "7.0 / 6.0", "rspamd", 1.0),
)
CHUNK = 200_000


def sqlite_time(moment: datetime) -> str:
    """How SQLAlchemy's SQLite dialect stores a DateTime (UtcDateTime: in UTC, naive)."""
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond:06d}"


def make_accounts(store: Store, count: int) -> list[int]:
    with store.transaction() as session:
        domain = add_domain(session, DOMAIN, "bench", f"smtp.{DOMAIN}", f"pop.{DOMAIN}")
        session.execute(
            insert(Account),
            [
                {"address": f"user{n}@{DOMAIN}", "domain_id": domain.id, "password_hash": "-"}
                for n in range(count)
            ],
        )
        return list(session.scalars(select(Account.id).order_by(Account.id)))


def log_rows(
    accounts: list[int], heavy_share: float, total: int, now: datetime
) -> Iterator[list[tuple[object, ...]]]:
    """Chunks of rows, oldest first, as the milter would have written them over 7 days."""
    rng = random.Random(18)
    senders = [
        f"{local}@{'bank' if n % 50 == 0 else 'shop'}{n % SENDER_DOMAINS}.example"
        for n, local in enumerate(["info", "news", "no-reply", "support", "taro"] * 4000)
    ]
    heavy, others = accounts[0], accounts[1:]
    start = now - timedelta(days=7)
    step = timedelta(days=7) / total
    for first in range(0, total, CHUNK):
        chunk: list[tuple[object, ...]] = []
        for index in range(first, min(total, first + CHUNK)):
            draw = rng.random()
            outcome = next(o for o in OUTCOMES if draw < o[4])
            chunk.append(
                (
                    heavy if rng.random() < heavy_share else rng.choice(others),
                    sqlite_time(start + step * (index + 1)),
                    rng.choice(senders),
                    rng.choice(SUBJECTS).format(n=index % 997),
                    *outcome[:4],
                    "",
                    False,
                    rng.randbytes(32).hex(),
                    rng.randbytes(5).hex().upper(),
                )
            )
        yield chunk


def fill_log(
    path: Path, accounts: list[int], heavy_share: float, total: int, now: datetime
) -> None:
    """Bulk-insert the rows with sqlite3: the index dropped first and built again after
    from its own definition, no fsync (a scratch file)."""
    database = sqlite3.connect(path)
    try:
        database.execute("PRAGMA synchronous=OFF")
        indexes = database.execute(
            "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='delivery_log' "
            "AND sql IS NOT NULL"
        ).fetchall()
        for name, _ in indexes:
            database.execute(f'DROP INDEX "{name}"')
        statement = (
            "INSERT INTO delivery_log (account_id, at, sender, subject, outcome, rule, entry, "
            "matched, forwarded_to, auto_replied, message_key, queue_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        written = 0
        for chunk in log_rows(accounts, heavy_share, total, now):
            database.executemany(statement, chunk)
            database.commit()
            written += len(chunk)
            if written % 2_000_000 == 0:
                print(f"  {written:,} rows", flush=True)
        for _, sql in indexes:
            database.execute(sql)
        database.commit()
    finally:
        database.close()


@dataclass(frozen=True)
class Timing:
    name: str
    rows: int  # rows the query found (the page's total)
    times: list[float]  # seconds per request

    def line(self) -> str:
        ms = sorted(1000 * t for t in self.times)
        p95 = quantiles(ms, n=20)[-1]
        flag = "  SLOW (> 50 ms p95)" if p95 > 50 else ""
        return f"{self.name:<30} {self.rows:>8} {median(ms):>7.2f} {p95:>7.2f} {ms[-1]:>7.2f}{flag}"


def timed_requests(store: Store, account_id: int, query: str, number: int, requests: int) -> Timing:
    """``requests`` times what the page reads, each in its own session as a request is."""
    times = []
    rows = 0
    for _ in range(requests):
        start = time.perf_counter()
        with store.read() as session:
            page, _ = log_page(session, account_id, query, number)
        times.append(time.perf_counter() - start)
        rows = page.total
    return Timing("", rows, times)


def page_timings(store: Store, account_id: int, requests: int) -> list[Timing]:
    first = timed_requests(store, account_id, "", 1, requests)
    last_page = max(1, -(-first.rows // 50))
    asked = (
        ("first page", "", 1),
        (f"last page ({last_page})", "", last_page),
        (f"sender search {SENDER_SEARCH!r}", SENDER_SEARCH, 1),
        (f"subject search {SUBJECT_SEARCH!r}", SUBJECT_SEARCH, 1),
    )
    timings = []
    for name, query, number in asked:
        timing = timed_requests(store, account_id, query, number, requests)
        timings.append(Timing(name, timing.rows, timing.times))
    return timings


@dataclass(frozen=True)
class Purge:
    """One purge (forget_old) and what a writer went through meanwhile."""

    name: str
    rows: int
    seconds: float
    transactions: list[float]  # each deleting transaction, from its first statement to committed
    waits: list[float]  # the writer's flushes, each from asked to written
    failed: int  # flushes the store refused (the busy timeout)

    def line(self) -> str:
        spans = [1000 * t for t in self.transactions]
        waits = sorted(1000 * t for t in self.waits)
        return (
            f"{self.name:<24} {self.rows:>8} {self.seconds:>6.2f} {len(spans):>5} "
            f"{spans[0]:>7.0f} {median(spans):>7.0f} {max(spans):>7.0f} "
            f"{len(waits):>6} {median(waits):>6.0f} {waits[-1]:>6.0f} {self.failed:>6}"
        )


def timed_purge(store: Store, name: str, now: datetime, writer_account: int) -> Purge:
    """The purge as the worker runs it, while a writer on a connection of its own flushes
    one 受信ログ row every 50 ms, as the milter's flush thread would (its quarantine rows
    wait for the same lock): how long each of the purge's transactions took, and how long
    the writer waited."""
    transactions: list[float] = []
    began = [0.0]

    def begun(session: Session, *_: object) -> None:
        if session.bind is store.engine:
            began[0] = time.perf_counter()

    def committed(session: Session) -> None:
        if session.bind is store.engine:
            transactions.append(time.perf_counter() - began[0])

    writer = Store(store.database_url)
    waits: list[float] = []
    failed = [0]
    stop = threading.Event()

    def write() -> None:
        log = DeliveryLog(writer)
        while not stop.is_set():
            message = Message("writer@bench.example", (("Subject", "during the purge"),))
            log.record(Mailed(datetime.now(UTC), message, "", "", ((writer_account, DELIVER),)))
            start = time.perf_counter()
            written = log.flush()
            waits.append(time.perf_counter() - start)
            failed[0] += not written
            stop.wait(0.05)

    thread = threading.Thread(target=write)
    event.listen(Session, "after_begin", begun)
    event.listen(Session, "after_commit", committed)
    thread.start()
    try:
        start = time.perf_counter()
        deleted = forget_old(store, now)
        seconds = time.perf_counter() - start
    finally:
        stop.set()
        thread.join()
        event.remove(Session, "after_begin", begun)
        event.remove(Session, "after_commit", committed)
        writer.dispose()
    return Purge(name, deleted, seconds, transactions, waits, failed[0])


def volume(options: argparse.Namespace) -> None:
    before = uptime()
    with run_directory(options.keep) as root:
        path = root / "volume.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        store = Store(url)
        try:
            accounts = make_accounts(store, options.accounts)
            store.dispose()  # its pooled connection would hold up the fill's DROP INDEX
            now = datetime.now(UTC)
            print(f"filling {options.rows:,} rows over {options.accounts:,} accounts ...")
            started = time.monotonic()
            fill_log(path, accounts, options.heavy_share, options.rows, now)
            filled = time.monotonic() - started
            size = path.stat().st_size
            print(f"filled in {filled:.0f} s, {size / 2**30:.2f} GiB", flush=True)
            typical = accounts[len(accounts) // 2]
            measured = [
                ("typical mailbox", typical, page_timings(store, typical, options.requests)),
                ("heavy mailbox", accounts[0], page_timings(store, accounts[0], options.requests)),
            ]
            purges = [
                timed_purge(store, "one hour past its days", now + timedelta(hours=1), typical),
                timed_purge(
                    store, "one day past its days", now + timedelta(days=1, hours=1), typical
                ),
            ]
        finally:
            store.dispose()
    print()
    print(
        f"delivery_log: {options.rows:,} rows, {options.accounts:,} accounts, 7 days; SQLite "
        f"{size / 2**30:.2f} GiB (filled in {filled:.0f} s); {options.requests} requests each"
    )
    print(f"before: {before}\nafter:  {uptime()}")
    header = f"{'page query':<30} {'rows':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"
    for what, account_id, timings in measured:
        print(f"\n{what} (account {account_id})")
        print(header)
        print("-" * len(header))
        for timing in timings:
            print(timing.line())
    print(
        f"\n{'purge (forget_old)':<24} {'rows':>8} {'s':>6} {'txns':>5} "
        f"{'first':>7} {'median':>7} {'longest':>7} {'writes':>6} {'median':>6} {'max':>6} "
        f"{'failed':>6}\n{'':<46} {'transaction ms':^23} {'a writer meanwhile, ms':^27}"
    )
    for purge in purges:
        print(purge.line())


# --- main ------------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per batch")
    parser.add_argument("--sessions", type=int, default=10, help="parallel SMTP sessions")
    parser.add_argument("--recipients", type=int, default=2, help="recipients per message")
    parser.add_argument("--rounds", type=int, default=6, help="batches per setup")
    parser.add_argument("--size", type=int, default=10240, help="body bytes (smtp-source -l)")
    parser.add_argument("--volume", action="store_true", help="the 10-million-row part instead")
    parser.add_argument("--rows", type=int, default=10_000_000, help="--volume: log rows")
    parser.add_argument("--accounts", type=int, default=2000, help="--volume: mailboxes")
    parser.add_argument(
        "--heavy-share", type=float, default=0.005, help="--volume: the heavy mailbox's share"
    )
    parser.add_argument("--requests", type=int, default=60, help="--volume: per page query")
    parser.add_argument("--keep", action="store_true", help="keep the run folder")
    return parser.parse_args()


def main() -> None:
    options = parse_arguments()
    # A SIGTERM unwinds like Ctrl-C, so that every Postfix and milter is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run: Callable[[argparse.Namespace], None] = volume if options.volume else throughput
    run(options)


if __name__ == "__main__":
    main()
