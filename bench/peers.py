"""sekisho against the real peer filters, on one private Postfix, in one run.

One invocation starts one clamd (sekisho.devstack.clamd, on a unix socket) and one rspamd
(sekisho.devstack.spam, its normal and proxy workers each with one process per CPU), then
a private Postfix instance (sekisho.devstack.postfix) per setup, all on 127.0.0.1, and
pushes the same load through each:

  bare            no milter at all
  noop            bench/noop_milter.py on a unix socket: pymilter receiving everything,
                  deciding nothing (the floor of any pymilter milter)
  clamav-milter   Debian's clamav-milter with its own config file on a unix socket,
                  asking the same clamd (AddHeader Replace: X-Virus-Status: Clean)
  rspamd-milter   rspamd's proxy worker in milter mode with self_scan (rspamd's own
                  milter, the same rspamd and rules; milter_headers adds X-Spam-Status)
  sekisho-rules   `sekisho milter`, every recipient with 1,000 From-reject and 1,000
                  Subject-reject entries (bench/rules_scaling.py's) that the mail misses
  sekisho-all-in  the same lists, and every recipient's virus scan (clamd) and spam scan
                  (rspamd, tag mode) on

The load is smtp-source(1): --sessions parallel SMTP sessions, a new connection per
message, --size bytes of body, each message to --recipients mailboxes; each batch is
timed from smtp-source's start to the last "status=sent" in Postfix's log (delivered),
as in bench/milter_throughput.py, whose helpers this reuses. After each batch, outside
the timing, the benchmark checks that each setup did its work, so one that silently
skipped it is an error, not a faster figure:

  - every copy is a new file in its INBOX Maildir (none missing, none quarantined);
  - every copy carries its scanner's header (X-Virus-Status: Clean for clamav-milter,
    X-Spam-Status for rspamd's milter, X-Sekisho-Virus: clean and X-Sekisho-Spam-Score
    naming rspamd for sekisho-all-in) and no other scanner's; the others none;
  - sekisho logged its rules' decisions for every message (both sekisho setups).

CPU time per message comes from /proc: the Postfix instance, the milter (clamav-milter,
rspamd's proxy worker is counted under "scanners"), the scanners (clamd and rspamd, whole
process trees, whichever setup used them) and smtp-source. On a 2-core machine that the
load saturates, the CPU cost ratio predicts the throughput ratio and is steadier than the
rates when other work shares the machine.

Each instance first gets a warm-up batch; then the setups take turns, --rounds times,
each round starting with the next setup, and the median round is reported.

    .venv/bin/python bench/peers.py [--messages 500] [--sessions 10] [--size 10240]
        [--recipients 2] [--rounds 3] [--only bare,noop,...] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from statistics import median

from milter_throughput import (
    DOMAIN,
    AppendedLines,
    Load,
    LogCounter,
    chosen,
    last_line,
    log_tail,
    open_store,
    play_rounds,
    print_ratios,
    run_directory,
    start_noop_milter,
    stderr_into,
    warn_if_noisy,
)
from rules_scaling import from_entries, subject_entries
from scan_throughput import inbox_files, new_inbox_files, timed_load, tree_cpu_seconds

from sekisho.devstack.clamd import ClamdInstance
from sekisho.devstack.ports import free_port, wait_for_unix
from sekisho.devstack.postfix import VMAIL_UID, PostfixInstance
from sekisho.devstack.processes import milter_process, stop_process
from sekisho.devstack.spam import RspamdInstance
from sekisho.rules.lists import REJECT_FROM, REJECT_SUBJECT
from sekisho.rules.model import SpamSetting
from sekisho.store.accounts import require_account
from sekisho.store.db import Store
from sekisho.store.lists import add_values
from sekisho.store.spam_settings import set_spam_setting
from sekisho.store.virus_settings import set_virus_scan

LIST_ENTRIES = 1000  # From and Subject entries per mailbox
CREATED_ENTRIES = 50  # milter_throughput.create_store's spamN.example entries
HEAD_BYTES = 16384  # a delivered copy's header fields are within this
DECISIONS = re.compile(rb"\bdecisions queue_id=")
SCAN_HEADERS = (
    "X-Virus-Status",
    "X-Virus-Scanned",
    "X-Spam-Status",
    "X-Sekisho-Spam-Score",
    "X-Sekisho-Virus",
)


@dataclass(frozen=True)
class PeerSetup:
    name: str
    milter: str = ""  # "", "noop", "clamav", "rspamd" or "sekisho"
    scans: bool = False  # sekisho: every mailbox's virus and spam scan on
    # Every delivered copy carries each of these header fields with this text in its value.
    headers: tuple[tuple[str, str], ...] = ()


SETUPS = (
    PeerSetup("bare"),
    PeerSetup("noop", "noop"),
    PeerSetup(
        "clamav-milter",
        "clamav",
        headers=(("X-Virus-Status", "Clean"), ("X-Virus-Scanned", "clamav-milter")),
    ),
    PeerSetup("rspamd-milter", "rspamd", headers=(("X-Spam-Status", "score="),)),
    PeerSetup("sekisho-rules", "sekisho"),
    PeerSetup(
        "sekisho-all-in",
        "sekisho",
        scans=True,
        headers=(("X-Sekisho-Virus", "clean"), ("X-Sekisho-Spam-Score", "(rspamd)")),
    ),
)
SETUPS_BY_NAME = {setup.name: setup for setup in SETUPS}

# (numerator, denominator, goal or None): on delivered messages per second and CPU cost.
RATIOS = (
    ("sekisho-all-in", "rspamd-milter", 1.0),
    ("sekisho-all-in", "clamav-milter", 1.0),
    ("sekisho-rules", "noop", 0.95),
    ("noop", "bare", None),
    ("clamav-milter", "bare", None),
    ("rspamd-milter", "bare", None),
    ("sekisho-rules", "bare", None),
    ("sekisho-all-in", "bare", None),
)


@dataclass(frozen=True)
class PeerBatch:
    messages: int
    accepted: float  # seconds until the last 250 after DATA
    delivered: float  # seconds until the last copy was in its Maildir
    postfix_cpu: float  # CPU seconds used during the batch by the Postfix instance,
    milter_cpu: float  # ... by the milter process,
    scanner_cpu: float  # ... by clamd and rspamd,
    client_cpu: float  # ... and by smtp-source


@dataclass
class PeerInstance:
    setup: PeerSetup
    postfix: PostfixInstance
    milter_pid: int | None
    milter_log: Path
    batches: list[PeerBatch] = field(default_factory=list)

    @property
    def mail_root(self) -> Path:
        return self.postfix.mail_root

    def milter_log_tail(self, lines: int = 5) -> str:
        return log_tail(self.milter_log, lines)


@dataclass(frozen=True)
class Scanners:
    clamd: ClamdInstance
    rspamd: RspamdInstance

    def cpu_seconds(self) -> float:
        clamd = self.clamd.process.pid if self.clamd.process is not None else None
        return tree_cpu_seconds(clamd) + tree_cpu_seconds(_pid(self.rspamd.pidfile))


def _pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


# --- the stores and the processes -----------------------------------------------------------


def fill_store(store_url: str, addresses: list[str], scans: bool) -> None:
    """1,000 From and 1,000 Subject entries per mailbox; with ``scans`` the virus scan
    and the spam scan (tag mode) on."""
    existing = {f"spam{i}.example" for i in range(CREATED_ENTRIES)}
    senders = [e for e in from_entries(LIST_ENTRIES + CREATED_ENTRIES) if e not in existing]
    subjects = subject_entries(LIST_ENTRIES, 1)
    store = Store(store_url)
    try:
        with store.transaction() as session:
            for address in addresses:
                account_id = require_account(session, address).id
                add_values(session, account_id, REJECT_FROM, senders[: LIST_ENTRIES - 50])
                add_values(session, account_id, REJECT_SUBJECT, subjects)
                if scans:
                    set_virus_scan(session, account_id, True)
                    set_spam_setting(
                        session, account_id, SpamSetting(enabled=True, quarantine=False)
                    )
    finally:
        store.dispose()


def start_clamav_milter(
    run: Path, clamd: ClamdInstance, log: Path, stack: ExitStack
) -> tuple[str, subprocess.Popen[bytes]]:
    """Debian's clamav-milter with its own config: Debian's settings but the socket, the
    clamd, the files and the foreground (it stays root: no User)."""
    socket_path = run / "clamav-milter.sock"
    config = run / "clamav-milter.conf"
    config.write_text(
        "\n".join(
            [
                f"MilterSocket unix:{socket_path}",
                "MilterSocketMode 666",
                "FixStaleSocket true",
                "Foreground true",
                f"PidFile {run / 'clamav-milter.pid'}",
                f"ClamdSocket {clamd.url}",  # unix:/path, as sekisho's
                "ReadTimeout 120",
                "OnClean Accept",
                "OnInfected Quarantine",
                "OnFail Defer",
                "AddHeader Replace",
                "LogInfected Off",
                "LogClean Off",
                "MaxFileSize 25M",
                "SupportMultipleRecipients false",
                f"TemporaryDirectory {run}",
                f"LogFile {log}",
                "LogTime true",
                "",
            ]
        )
    )
    output = stack.enter_context(log.open("ab"))
    process = subprocess.Popen(
        ["clamav-milter", "-c", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    stack.callback(stop_process, process, 2.0)
    try:
        wait_for_unix(socket_path)
    except TimeoutError as error:
        error.add_note(log.read_text(errors="replace"))
        raise
    return f"unix:{socket_path}", process


def start_instance(
    setup: PeerSetup,
    root: Path,
    store: tuple[str, Path],
    scanners: Scanners,
    stack: ExitStack,
) -> PeerInstance:
    """The setup's milter (if any) and Postfix; ``stack`` stops both, whatever happens."""
    store_url, store_path = store
    run = root / setup.name
    run.mkdir()
    run.chmod(0o755)  # smtpd (user postfix) reaches the sockets, virtual (uid 5000) the mail
    mail_root = run / "mail"
    milter_log = run / "milter.log"
    milter: subprocess.Popen[bytes] | None = None
    listen = ""
    if setup.milter == "sekisho":
        listen = f"unix:{run / 'milter.sock'}"
        environment = {
            "SEKISHO_DATABASE_URL": store_url,
            "SEKISHO_MAIL_ROOT": str(mail_root),
            "SEKISHO_MAILBOX_OWNER": f"{VMAIL_UID}:{VMAIL_UID}",
            "SEKISHO_SECRET_KEY": "bench",
            "SEKISHO_CLAMD": scanners.clamd.url,
            "SEKISHO_SPAM_ENGINE": scanners.rspamd.url,
        }
        sekisho = milter_process(environment, listen, milter_log)
        stack.callback(sekisho.stop, 0.5)
        milter = sekisho.process
    elif setup.milter == "noop":
        listen = f"unix:{run / 'milter.sock'}"
        log = stack.enter_context(milter_log.open("wb"))
        milter = start_noop_milter(listen, False, log)
        stack.callback(stop_process, milter, 0.5)
    elif setup.milter == "clamav":
        listen, milter = start_clamav_milter(run, scanners.clamd, milter_log, stack)
    elif setup.milter == "rspamd":
        listen = f"unix:{scanners.rspamd.milter_socket}"
        milter_log = scanners.rspamd.log_file
    postfix = PostfixInstance(
        run=run,
        mail_root=mail_root,
        smtp_port=free_port(),
        reinject_port=free_port(),
        milter=listen,
        database_url=f"sqlite:///{store_path}",
        domains=(DOMAIN,),
    )
    stack.callback(postfix.stop)
    with stderr_into(run / "postfix-start.log"):
        postfix.start()
    if milter is not None and milter.poll() is not None:
        raise RuntimeError(f"the milter exited: {milter_log.read_text(errors='replace')}")
    return PeerInstance(setup, postfix, milter.pid if milter is not None else None, milter_log)


# --- one batch -------------------------------------------------------------------------------


def check_work(setup: PeerSetup, files: set[Path]) -> None:
    """Every copy carries the setup's scanner headers, and no other scanner's."""
    parser = BytesHeaderParser()
    own = {name for name, _ in setup.headers}
    for path in sorted(files):
        with path.open("rb") as copy:
            head = copy.read(HEAD_BYTES).partition(b"\n\n")[0]
        headers = parser.parsebytes(head)
        for name, text in setup.headers:
            value = headers.get(name)
            if value is None or text not in str(value):
                raise RuntimeError(f"{setup.name}: {path.name} was not scanned: {name}: {value}")
        foreign = [name for name in SCAN_HEADERS if name in headers and name not in own]
        if foreign:
            raise RuntimeError(f"{setup.name}: {path.name} has {', '.join(foreign)}")


def check_decisions(instance: PeerInstance, lines: AppendedLines, messages: int) -> None:
    """sekisho logged one line of rule decisions per message."""
    if instance.setup.milter != "sekisho":
        return
    decided = sum(1 for line in lines.new_lines() if DECISIONS.search(line))
    if decided != messages:
        raise RuntimeError(f"{instance.setup.name}: rules decided {decided} of {messages} messages")


def run_batch(instance: PeerInstance, load: Load, scanners: Scanners) -> PeerBatch:
    """Send ``load``, wait until every copy is delivered, then check the setup's work."""
    setup = instance.setup
    addresses = load.addresses
    expected = load.messages * load.recipients
    files_before = inbox_files(instance.mail_root, addresses)
    log = LogCounter(instance.postfix.log_file)
    decisions = AppendedLines(instance.milter_log)
    master = int((instance.postfix.run / "pf-spool" / "pid" / "master.pid").read_text())

    def cpu() -> tuple[float, float, float]:
        milter = tree_cpu_seconds(instance.milter_pid)
        return tree_cpu_seconds(master), milter, scanners.cpu_seconds()

    timeout = 60 + load.messages * 0.2
    timed = timed_load(instance.postfix, setup.name, load, log, expected, timeout, cpu)
    # --- outside the timing: did every copy arrive, with the setup's work done? ---
    files = new_inbox_files(instance.mail_root, setup.name, addresses, files_before, expected)
    check_work(setup, files)
    check_decisions(instance, decisions, load.messages)
    return PeerBatch(
        messages=load.messages,
        accepted=timed.accepted,
        delivered=timed.delivered,
        postfix_cpu=timed.cpu_spent[0],
        milter_cpu=timed.cpu_spent[1],
        scanner_cpu=timed.cpu_spent[2],
        client_cpu=timed.client_cpu,
    )


# --- report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerSummary:
    accepted_rate: float
    delivered_rate: float
    postfix_ms: float
    milter_ms: float
    scanner_ms: float
    client_ms: float

    @property
    def total_ms(self) -> float:
        return self.postfix_ms + self.milter_ms + self.scanner_ms + self.client_ms

    @classmethod
    def of(cls, batches: list[PeerBatch]) -> PeerSummary:
        return cls(
            accepted_rate=median(b.messages / b.accepted for b in batches),
            delivered_rate=median(b.messages / b.delivered for b in batches),
            postfix_ms=median(1000 * b.postfix_cpu / b.messages for b in batches),
            milter_ms=median(1000 * b.milter_cpu / b.messages for b in batches),
            scanner_ms=median(1000 * b.scanner_cpu / b.messages for b in batches),
            client_ms=median(1000 * b.client_cpu / b.messages for b in batches),
        )


def report(
    instances: list[PeerInstance],
    wanted: list[PeerSetup],
    load: Load,
    rounds: int,
    loads: tuple[float, float],
) -> None:
    print()
    print(
        f"{load.messages} messages of {load.size} body bytes x {load.recipients} recipients "
        f"per batch, {load.sessions} smtp-source sessions, median of {rounds} round(s); "
        f"{os.cpu_count()} CPUs, load average {loads[0]:.2f} before the start, "
        f"{loads[1]:.2f} at the end"
    )
    header = (
        f"{'':<15} {'accepted':>8} {'delivered':>9} {'of':>5}   {'CPU ms per message':>32}\n"
        f"{'setup':<15} {'msg/s':>8} {'msg/s':>9} {'bare':>5}   {'postfix':>7} {'milter':>6} "
        f"{'scans':>5} {'client':>6} {'total':>5}  delivered msg/s by round"
    )
    print(header)
    print("-" * len(header.splitlines()[1]))
    summaries = {i.setup.name: PeerSummary.of(i.batches) for i in instances}
    bare = summaries.get("bare")
    for instance in instances:
        s = summaries[instance.setup.name]
        of_bare = f"{s.delivered_rate / bare.delivered_rate:>5.2f}" if bare else f"{'':>5}"
        print(
            f"{instance.setup.name:<15} {s.accepted_rate:>8.0f} {s.delivered_rate:>9.0f} "
            f"{of_bare}   {s.postfix_ms:>7.2f} {s.milter_ms:>6.2f} {s.scanner_ms:>5.2f} "
            f"{s.client_ms:>6.2f} {s.total_ms:>5.2f}  "
            + " ".join(f"{b.messages / b.delivered:.0f}" for b in instance.batches)
        )
    print()
    print(f"{'ratio':<37} {'accepted':>8} {'delivered':>9} {'CPU cost':>8}  goal")
    print_ratios(RATIOS, summaries, {setup.name for setup in wanted})
    print_floor(summaries)
    print(
        "\n(every copy of every batch was checked: delivered to the INBOX, its scanner's "
        "headers and no other's, sekisho's decisions logged)"
    )
    warn_if_noisy(instances)


def print_floor(summaries: dict[str, PeerSummary]) -> None:
    """What any filter doing both scans costs at least: bare Postfix plus clamd's CPU as
    clamav-milter used it plus rspamd's as its own milter used it, with a milter of no
    cost. On saturated CPUs the CPU cost ratio of that floor to a peer bounds what
    sekisho-all-in can reach against it, however fast its own code."""
    needed = ("bare", "clamav-milter", "rspamd-milter")
    if not all(name in summaries for name in needed):
        return
    bare, clamav, rspamd = (summaries[name] for name in needed)
    floor = bare.total_ms + clamav.scanner_ms + rspamd.scanner_ms
    print(
        f"\nfloor of both scans (bare + clamd of clamav-milter + rspamd of rspamd-milter, "
        f"a milter costing nothing): {floor:.2f} CPU ms per message; by CPU cost at most "
        f"{rspamd.total_ms / floor:.2f} x rspamd-milter, {clamav.total_ms / floor:.2f} x "
        f"clamav-milter"
    )
    if "sekisho-all-in" in summaries:
        mine = summaries["sekisho-all-in"]
        print(
            f"sekisho-all-in above that floor: milter {mine.milter_ms:.2f} ms, scanners "
            f"{mine.scanner_ms - clamav.scanner_ms - rspamd.scanner_ms:+.2f} ms, Postfix "
            f"{mine.postfix_ms - bare.postfix_ms:+.2f} ms per message"
        )


# --- main ------------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500, help="messages per batch")
    parser.add_argument("--sessions", type=int, default=10, help="parallel SMTP sessions")
    parser.add_argument("--recipients", type=int, default=2, help="recipients per message")
    parser.add_argument("--rounds", type=int, default=3, help="batches per setup")
    parser.add_argument("--size", type=int, default=10240, help="body bytes (smtp-source -l)")
    parser.add_argument(
        "--only", default="", help="comma-separated setup names: " + ",".join(SETUPS_BY_NAME)
    )
    parser.add_argument("--keep", action="store_true", help="keep the run folder")
    return parser.parse_args()


def start_scanners(root: Path, stack: ExitStack) -> Scanners:
    clamd = ClamdInstance(root / "clamd", local_socket=True)
    clamd.run.mkdir()
    stack.callback(clamd.stop)
    clamd.start()
    folder = root / "rspamd"
    folder.mkdir()
    rspamd = RspamdInstance(folder, proxy_milter=True, workers=os.cpu_count() or 1)
    stack.callback(_stop_rspamd, rspamd)
    rspamd.start()
    wait_for_unix(rspamd.milter_socket)
    return Scanners(clamd, rspamd)


def _stop_rspamd(rspamd: RspamdInstance) -> None:
    rspamd.stop()
    with contextlib.suppress(TimeoutError):
        rspamd.wait_stopped()


def main() -> None:
    options = parse_arguments()
    # A SIGTERM unwinds like Ctrl-C, so that every Postfix, milter and scanner is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    idle_load = os.getloadavg()[0]
    setups = chosen(options.only, SETUPS_BY_NAME)
    load = Load(options.messages, options.sessions, options.recipients, options.size)
    warm_up = Load(options.sessions * 4, options.sessions, options.recipients, options.size)
    with run_directory(options.keep) as root, ExitStack() as stack:
        # Postfix reads the mailbox list from a store; the rules-only store serves every
        # setup but sekisho-all-in.
        stores: dict[bool, tuple[str, Path]] = {}
        for scans in sorted({setup.scans for setup in setups}):
            folder = root / ("all-in" if scans else "rules")
            folder.mkdir(mode=0o755)
            stores[scans] = open_store(folder, load.addresses, stack)
            fill_store(stores[scans][0], load.addresses, scans)
        print("starting clamd and rspamd ...", flush=True)
        scanners = start_scanners(root, stack)
        instances: list[PeerInstance] = []
        for setup in setups:
            print(f"starting {setup.name} ...", flush=True)
            try:
                instance = start_instance(setup, root, stores[setup.scans], scanners, stack)
                run_batch(instance, warm_up, scanners)
            except (TimeoutError, RuntimeError, subprocess.CalledProcessError) as error:
                print(f"  {setup.name} left out, it does not work: {last_line(error)}")
                continue
            instances.append(instance)
        play_rounds(instances, options.rounds, lambda i: run_batch(i, load, scanners))
        report(instances, setups, load, options.rounds, (idle_load, os.getloadavg()[0]))
    if len(instances) < len(setups):
        sys.exit("a setup was left out: its figures are missing, see above")


if __name__ == "__main__":
    main()
