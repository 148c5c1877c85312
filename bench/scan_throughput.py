"""Spam scan throughput: sekisho's scan against Debian's spamass-milter, through real Postfix.

One invocation starts one SpamAssassin spamd (sekisho.devstack.spam, Debian's rules, with
--spamd-children preforked children) and a private Postfix instance
(sekisho.devstack.postfix) for each setup, all on 127.0.0.1, and pushes the same load
through each of them:

  bare                 no milter at all: the context, what Postfix alone does here
  spamass-milter       Debian's spamass-milter (the peer chain) on a unix socket, owned
                       postfix:postfix 0660 as Debian's init script leaves it, run as user
                       spamass-milter with Debian's default "-u spamass-milter"; for every
                       message it runs spamc, which asks the same spamd
                       (spamass-milter -p SOCK -u spamass-milter -- -d 127.0.0.1 -p PORT).
                       Debian's default "-i 127.0.0.1" is left out on purpose: it would
                       let this loopback test mail through unscanned.
  sekisho              `sekisho milter` on a unix socket with
                       SEKISHO_SPAM_ENGINE=spamd://127.0.0.1:PORT (the same spamd); every
                       recipient is an account with the spam scan on in tag mode
                       (SpamSetting(enabled=True, quarantine=False)) and 50 From-reject
                       entries the mail does not match, as in bench/milter_throughput.py
  sekisho+quarantine   the same with the scan in quarantine mode (quarantine=True); the
                       mail is not spam, so it is delivered as well

The mail is plain and normal, not GTUBE: smtp-source's messages with --size bytes of body
(4 KB by default), which spamd scores well below its 5.0 (not spam), so every setup delivers
every copy to the INBOX. The two milters do not hand spamd the same bytes: spamass-milter
adds a Received: header it builds from Postfix's macros (spamd: score 0.5, with
ALL_TRUSTED); sekisho sends the message as smtpd received it, without one (score 1.5, with
NO_RECEIVED and NO_RELAYS), about 350 bytes less: the "bytes" column.

The load is smtp-source(1): --sessions parallel SMTP sessions, a new connection per
message, each message to --recipients mailboxes. Each batch is timed from the start of
smtp-source to

  accepted   smtp-source's exit: every message has had its 250 after DATA;
  delivered  the last "status=sent" in Postfix's log: every copy is in its Maildir.

"ms/msg" is the delivered time of a batch divided by its messages (wall clock, at that
concurrency). After each batch, outside the timing, the benchmark checks that the scan
really happened, so a setup that silently skipped it is an error, not a faster figure:

  - every copy is a new file in its INBOX Maildir (none missing, none quarantined);
  - every copy carries its scanner's header (X-Sekisho-Spam-Score naming spamd for
    sekisho, X-Spam-Status for spamass-milter) and no other scanner's; bare mail none;
  - spamd's log has exactly one scan per message of the batch (none for bare).

The CPU time each batch cost is taken from /proc, per message: the Postfix instance
(master and children), the milter (for spamass-milter including the spamc it runs for
each message), spamd (parent and children) and smtp-source (getrusage). spamd does the
bulk of the work in both scanning setups, so the throughput ratio between them is
expected near 1; the milter column is where they differ. "scan s" and "bytes" are the mean
scan time (spamd's own figure, 0.1 s resolution) and message size spamd reported.

Each instance first gets a warm-up batch; then the setups take turns, --rounds times, each
round starting with the next setup, and the median round is reported (as in
bench/milter_throughput.py, whose pieces this script reuses). spamd takes 30-690 ms per
message on a 2-core machine, so the defaults are small: one run takes a few minutes.

    .venv/bin/python bench/scan_throughput.py [--messages 200] [--sessions 8] [--rounds 3]
        [--recipients 2] [--size 4096] [--spamd-children N] [--only bare,sekisho,...] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from statistics import mean, median

from milter_throughput import (
    CLOCK_TICKS,
    DOMAIN,
    POLL_SECONDS,
    SENDER,
    AppendedLines,
    Load,
    LogCounter,
    _stat_fields,
    _ticks,
    check_deadline,
    check_exit_status,
    chosen,
    client_cpu_seconds,
    count_files,
    last_line,
    log_tail,
    open_store,
    play_rounds,
    print_ratios,
    run_directory,
    smtp_source,
    stderr_into,
    warn_if_noisy,
)

from sekisho.devstack.ports import free_port, wait_for_unix
from sekisho.devstack.postfix import VMAIL_UID, PostfixInstance
from sekisho.devstack.processes import milter_process, stop_process
from sekisho.devstack.spam import SpamdInstance
from sekisho.rules.model import SpamSetting
from sekisho.store.accounts import require_account
from sekisho.store.db import Store
from sekisho.store.spam_settings import set_spam_setting

SEKISHO_HEADER = "X-Sekisho-Spam-Score"
SPAMASS_HEADER = "X-Spam-Status"
SPAMASS_HEADERS = {SPAMASS_HEADER, "X-Spam-Checker-Version", "X-Spam-Level"}
SCAN_HEADERS = (SEKISHO_HEADER, *sorted(SPAMASS_HEADERS))
# The milter macros Debian's README.Debian of spamass-milter asks Postfix to send.
SPAMASS_MACROS = {
    "milter_connect_macros": "j {daemon_name} v {if_name} _",
    "milter_data_macros": "j i {auth_type} {daemon_name} v {if_name} _",
    "milter_rcpt_macros": "j {auth_type} {daemon_name} v {if_name} _",
}
SPAMD_RESULT = re.compile(rb"spamd: result: .*\bscantime=([\d.]+),size=(\d+),")
SPAMD_LOG_GRACE = 5.0  # seconds spamd may log a scan after its answer was used


@dataclass(frozen=True)
class ScanSetup:
    name: str
    milter: str = ""  # "", "spamass" or "sekisho"
    quarantine: bool = False  # sekisho: the mailboxes' spam scan quarantines instead of tags
    header: str = ""  # every delivered copy carries it: the proof that it was scanned
    header_text: str = ""  # ... with this in its value

    @property
    def scanned(self) -> bool:
        return bool(self.milter)


SETUPS = (
    ScanSetup("bare"),
    ScanSetup("spamass-milter", "spamass", header=SPAMASS_HEADER, header_text="score="),
    ScanSetup("sekisho", "sekisho", header=SEKISHO_HEADER, header_text="(spamd)"),
    ScanSetup("sekisho+quarantine", "sekisho", True, header=SEKISHO_HEADER, header_text="(spamd)"),
)

SETUPS_BY_NAME = {setup.name: setup for setup in SETUPS}

# (numerator, denominator): judged on delivered messages per second and on CPU cost.
RATIOS = (  # no goals: this benchmark reports, milter_throughput.py checks the goals
    ("sekisho", "spamass-milter", None),
    ("sekisho", "bare", None),
    ("spamass-milter", "bare", None),
    ("sekisho+quarantine", "sekisho", None),
    ("sekisho+quarantine", "spamass-milter", None),
)


@dataclass(frozen=True)
class ScanBatch:
    messages: int
    accepted: float  # seconds until the last 250 after DATA
    delivered: float  # seconds until the last copy was in its Maildir
    postfix_cpu: float  # CPU seconds used during the batch by the Postfix instance,
    milter_cpu: float  # ... by the milter (and the spamc processes it ran),
    spamd_cpu: float  # ... by spamd
    client_cpu: float  # ... and by smtp-source
    scan_seconds: float  # mean scan time spamd logged (0.0 when nothing was scanned)
    scan_bytes: float  # mean message size spamd logged


@dataclass
class ScanInstance:
    """One setup's running Postfix (and milter) and the batches measured on it."""

    setup: ScanSetup
    postfix: PostfixInstance
    milter_pid: int | None
    milter_log: Path
    batches: list[ScanBatch] = field(default_factory=list)

    @property
    def mail_root(self) -> Path:
        return self.postfix.mail_root

    def milter_log_tail(self, lines: int = 5) -> str:
        return log_tail(self.milter_log, lines)


# --- spamd ---------------------------------------------------------------------------------


@dataclass
class BenchSpamd(SpamdInstance):
    """SpamdInstance whose pid is known once started (its CPU time is read through it)."""

    def start(self, timeout: float = 30.0) -> None:
        super().start(timeout)
        deadline = time.monotonic() + timeout
        while self.pid() is None:  # its CPU time is read through the pid
            check_deadline(deadline, "spamd wrote no pidfile")
            time.sleep(POLL_SECONDS)

    def stop_and_wait(self) -> None:
        self.stop()
        with contextlib.suppress(TimeoutError):
            self.wait_stopped()


class SpamdLog:
    """The scans spamd logged since this was created: (scan seconds, bytes) each."""

    def __init__(self, path: Path) -> None:
        self._lines = AppendedLines(path)
        self.scans: list[tuple[float, int]] = []

    def update(self) -> int:
        for line in self._lines.new_lines():
            match = SPAMD_RESULT.search(line)
            if match is not None:
                self.scans.append((float(match.group(1)), int(match.group(2))))
        return len(self.scans)


def tree_cpu_seconds(pid: int | None) -> float:
    """CPU time of a process (every thread, and the children it reaped) and of its living
    children: Postfix's master, spamd's parent, spamass-milter and the spamc it forks."""
    if pid is None:
        return 0.0
    ticks = _ticks(_stat_fields(pid), 11, 15)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields and int(fields[1]) == pid:
                ticks += _ticks(fields, 11, 13)
    return ticks / CLOCK_TICKS


# --- the store and the processes ---------------------------------------------------------


def turn_spam_scan_on(store_url: str, addresses: list[str], quarantine: bool) -> None:
    """Every recipient's 迷惑メールスキャン on: tagged mail to the INBOX, or quarantined."""
    store = Store(store_url)
    try:
        with store.transaction() as session:
            for address in addresses:
                account = require_account(session, address)
                setting = SpamSetting(enabled=True, quarantine=quarantine)
                set_spam_setting(session, account.id, setting)
    finally:
        store.dispose()


def start_spamass_milter(
    run: Path, spamd: BenchSpamd, log: Path, stack: ExitStack
) -> tuple[str, subprocess.Popen[bytes]]:
    """spamass-milter in the foreground as its Debian user; its socket as Debian leaves it."""
    folder = run / "spamass"
    folder.mkdir()
    user = pwd.getpwnam("spamass-milter")
    os.chown(folder, user.pw_uid, user.pw_gid)
    socket_path = folder / "spamass.sock"
    command = ["spamass-milter", "-p", str(socket_path), "-u", "spamass-milter"]
    command += ["--", "-d", "127.0.0.1", "-p", str(spamd.port)]
    output = stack.enter_context(log.open("ab"))
    process = subprocess.Popen(
        command,
        user=user.pw_uid,
        group=user.pw_gid,
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
    postfix = pwd.getpwnam("postfix")
    os.chown(socket_path, postfix.pw_uid, postfix.pw_gid)  # Debian: SOCKETOWNER, SOCKETMODE
    socket_path.chmod(0o660)
    return f"unix:{socket_path}", process


def start_instance(
    setup: ScanSetup,
    root: Path,
    store: tuple[str, Path],
    spamd: BenchSpamd,
    stack: ExitStack,
) -> ScanInstance:
    """The setup's milter (if any) and Postfix; ``stack`` stops both, whatever happens."""
    store_url, store_path = store
    run = root / setup.name.replace("+", "-")
    run.mkdir()
    # smtpd (user postfix) must reach the milter socket, virtual (uid 5000) the Maildirs.
    run.chmod(0o755)
    mail_root = run / "mail"
    milter_log = run / "milter.log"
    milter: subprocess.Popen[bytes] | None = None
    listen = ""
    extra_main: dict[str, str] = {}
    if setup.milter == "sekisho":
        listen = f"unix:{run / 'milter.sock'}"
        environment = {
            "SEKISHO_DATABASE_URL": store_url,
            "SEKISHO_MAIL_ROOT": str(mail_root),
            "SEKISHO_MAILBOX_OWNER": f"{VMAIL_UID}:{VMAIL_UID}",
            "SEKISHO_SECRET_KEY": "bench",
            "SEKISHO_SPAM_ENGINE": spamd.url,
        }
        sekisho = milter_process(environment, listen, milter_log)
        stack.callback(sekisho.stop, 0.5)
        milter = sekisho.process
    elif setup.milter == "spamass":
        listen, milter = start_spamass_milter(run, spamd, milter_log, stack)
        extra_main = dict(SPAMASS_MACROS)
    postfix = PostfixInstance(
        run=run,
        mail_root=mail_root,
        smtp_port=free_port(),
        reinject_port=free_port(),
        milter=listen,
        database_url=f"sqlite:///{store_path}",
        domains=(DOMAIN,),
        extra_main=extra_main,
    )
    stack.callback(postfix.stop)
    with stderr_into(run / "postfix-start.log"):
        postfix.start()
    if milter is not None and milter.poll() is not None:
        # Its socket was open for a moment: the milter died after opening it.
        raise RuntimeError(f"the milter exited: {milter_log.read_text(errors='replace')}")
    return ScanInstance(setup, postfix, milter.pid if milter is not None else None, milter_log)


# --- one batch -----------------------------------------------------------------------------


def inbox_files(mail_root: Path, addresses: list[str]) -> set[Path]:
    files: set[Path] = set()
    for address in addresses:
        folder = mail_root / DOMAIN / address.partition("@")[0] / "new"
        with contextlib.suppress(FileNotFoundError):
            files.update(folder / name for name in os.listdir(folder))
    return files


def check_scanned(setup: ScanSetup, files: set[Path]) -> None:
    """Every copy carries the setup's scanner header (and no other scanner's)."""
    parser = BytesHeaderParser()
    own = SPAMASS_HEADERS if setup.milter == "spamass" else {setup.header}
    for path in sorted(files):
        head = path.read_bytes().partition(b"\n\n")[0]
        headers = parser.parsebytes(head)
        if setup.header:
            value = headers.get(setup.header)
            if value is None or setup.header_text not in str(value):
                raise RuntimeError(
                    f"{setup.name}: {path.name} was not scanned: {setup.header}: {value}"
                )
        foreign = [name for name in SCAN_HEADERS if name in headers and name not in own]
        if foreign:
            raise RuntimeError(f"{setup.name}: {path.name} has {', '.join(foreign)}")


@dataclass(frozen=True)
class TimedLoad:
    """One smtp-source batch, timed to its accept and to its last delivery, with the CPU
    the setup's processes (``cpu()``'s figures) and the client spent meanwhile."""

    accepted: float
    delivered: float
    cpu_spent: tuple[float, ...]
    client_cpu: float


def timed_load(
    postfix: PostfixInstance,
    name: str,
    load: Load,
    log: LogCounter,
    expected: int,
    timeout: float,
    cpu: Callable[[], tuple[float, ...]],
    start_client: Callable[[], subprocess.Popen[bytes]] | None = None,
) -> TimedLoad:
    """Run ``load`` through ``postfix`` until ``expected`` copies are delivered: by
    ``start_client``'s smtp-source, or one sending ``load`` as it says."""
    cpu_before = cpu()
    client_before = client_cpu_seconds()
    start = time.monotonic()
    client = (
        start_client()
        if start_client is not None
        else smtp_source(postfix.smtp_port, SENDER, load.messages, load.sessions, load)
    )
    accepted = delivered = 0.0
    try:
        while not (accepted and delivered):
            if not accepted and client.poll() is not None:
                accepted = time.monotonic() - start
                check_exit_status([client])
            if not delivered and log.update() >= expected:
                delivered = time.monotonic() - start
            check_deadline(start + timeout, f"{log.sent} of {expected} copies delivered")
            time.sleep(POLL_SECONDS)
    except BaseException as error:
        error.add_note(f"{name}: Postfix log:\n{postfix.log_tail()}")
        raise
    finally:
        stop_process(client, grace=0)
        if client.stderr is not None:
            client.stderr.close()
    spent = tuple(after - before for after, before in zip(cpu(), cpu_before, strict=True))
    return TimedLoad(
        accepted, max(accepted, delivered), spent, client_cpu_seconds() - client_before
    )


def new_inbox_files(
    mail_root: Path, name: str, addresses: list[str], before: set[Path], expected: int
) -> set[Path]:
    """The copies a batch delivered: all of them in the INBOX, none quarantined."""
    files = inbox_files(mail_root, addresses) - before
    quarantined = count_files(mail_root, addresses, ".Junk/new")
    if len(files) != expected or quarantined:
        raise RuntimeError(
            f"{name}: {len(files)} of {expected} INBOX files, {quarantined} quarantined"
        )
    return files


def run_batch(instance: ScanInstance, load: Load, spamd: BenchSpamd) -> ScanBatch:
    """Send ``load``, wait until every copy is delivered, then check that it was scanned.

    bench/milter_throughput.py's run_batch with a timeout that allows for spamd's latency,
    spamd's and spamc's CPU time, and the checks of the scan.
    """
    setup = instance.setup
    addresses = load.addresses
    expected = load.messages * load.recipients
    files_before = inbox_files(instance.mail_root, addresses)
    log = LogCounter(instance.postfix.log_file)
    scans = SpamdLog(spamd.log_file)
    master = int((instance.postfix.run / "pf-spool" / "pid" / "master.pid").read_text())
    spamd_pid = spamd.pid()

    def cpu() -> tuple[float, float, float]:
        return (
            tree_cpu_seconds(master),
            tree_cpu_seconds(instance.milter_pid),
            tree_cpu_seconds(spamd_pid),
        )

    timeout = 60 + load.messages * 0.5
    timed = timed_load(instance.postfix, setup.name, load, log, expected, timeout, cpu)
    # --- outside the timing: did every copy arrive, scanned? ---
    files = new_inbox_files(instance.mail_root, setup.name, addresses, files_before, expected)
    check_scanned(setup, files)
    wanted_scans = load.messages if setup.scanned else 0
    grace = time.monotonic() + SPAMD_LOG_GRACE
    while scans.update() < wanted_scans and time.monotonic() < grace:
        time.sleep(POLL_SECONDS)
    if len(scans.scans) != wanted_scans:
        raise RuntimeError(
            f"{setup.name}: spamd logged {len(scans.scans)} scans for {load.messages} messages"
        )
    return ScanBatch(
        messages=load.messages,
        accepted=timed.accepted,
        delivered=timed.delivered,
        postfix_cpu=timed.cpu_spent[0],
        milter_cpu=timed.cpu_spent[1],
        spamd_cpu=timed.cpu_spent[2],
        client_cpu=timed.client_cpu,
        scan_seconds=mean(s for s, _ in scans.scans) if scans.scans else 0.0,
        scan_bytes=mean(b for _, b in scans.scans) if scans.scans else 0.0,
    )


# --- report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanSummary:
    """The median round of one setup, and its CPU cost per message."""

    accepted_seconds: float
    accepted_rate: float
    delivered_seconds: float
    delivered_rate: float
    ms_per_message: float
    postfix_ms: float
    milter_ms: float
    spamd_ms: float
    client_ms: float
    scan_seconds: float
    scan_bytes: float

    @property
    def total_ms(self) -> float:
        return self.postfix_ms + self.milter_ms + self.spamd_ms + self.client_ms

    @classmethod
    def of(cls, batches: list[ScanBatch]) -> ScanSummary:
        return cls(
            accepted_seconds=median(b.accepted for b in batches),
            accepted_rate=median(b.messages / b.accepted for b in batches),
            delivered_seconds=median(b.delivered for b in batches),
            delivered_rate=median(b.messages / b.delivered for b in batches),
            ms_per_message=median(1000 * b.delivered / b.messages for b in batches),
            postfix_ms=median(1000 * b.postfix_cpu / b.messages for b in batches),
            milter_ms=median(1000 * b.milter_cpu / b.messages for b in batches),
            spamd_ms=median(1000 * b.spamd_cpu / b.messages for b in batches),
            client_ms=median(1000 * b.client_cpu / b.messages for b in batches),
            scan_seconds=median(b.scan_seconds for b in batches),
            scan_bytes=median(b.scan_bytes for b in batches),
        )


def report(
    instances: list[ScanInstance],
    wanted: list[ScanSetup],
    load: Load,
    options: argparse.Namespace,
    idle_load: float,
) -> None:
    print()
    print(
        f"{load.messages} messages of {load.size} body bytes x {load.recipients} recipients per "
        f"batch, {load.sessions} smtp-source sessions, spamd with {options.spamd_children} "
        f"children, median of {options.rounds} round(s); {os.cpu_count()} CPUs, "
        f"load average {idle_load:.2f} before the start"
    )
    header = (
        f"{'':<19} {'':>5} {'accepted':>14} {'delivered':>21}   "
        f"{'CPU ms per message':>33}   {'spamd scan':>12}\n"
        f"{'setup':<19} {'msgs':>5} {'s':>6} {'msg/s':>7} {'s':>6} {'msg/s':>7} "
        f"{'ms/msg':>6}   {'postfix':>7} {'milter':>6} {'spamd':>6} {'client':>6} "
        f"{'total':>6}   {'s':>5} {'bytes':>6}  delivered msg/s by round"
    )
    print(header)
    print("-" * len(header.splitlines()[1]))
    summaries: dict[str, ScanSummary] = {}
    for instance in instances:
        batches = instance.batches
        s = summaries[instance.setup.name] = ScanSummary.of(batches)
        scan = f"{s.scan_seconds:>5.2f} {s.scan_bytes:>6.0f}" if instance.setup.scanned else ""
        print(
            f"{instance.setup.name:<19} {batches[0].messages:>5} "
            f"{s.accepted_seconds:>6.2f} {s.accepted_rate:>7.1f} "
            f"{s.delivered_seconds:>6.2f} {s.delivered_rate:>7.1f} {s.ms_per_message:>6.1f}   "
            f"{s.postfix_ms:>7.2f} {s.milter_ms:>6.2f} {s.spamd_ms:>6.1f} {s.client_ms:>6.2f} "
            f"{s.total_ms:>6.1f}   {scan:<12}  "
            + " ".join(f"{b.messages / b.delivered:.1f}" for b in batches)
        )
    print()
    print(f"{'ratio':<37} {'accepted':>8} {'delivered':>9} {'CPU cost':>8}")
    print_ratios(RATIOS, summaries, {setup.name for setup in wanted})
    print(
        "\n(ratios above 1: the first setup is faster / cheaper; every copy of every batch "
        "was checked: delivered to the INBOX, its scanner's header, one spamd scan per message)"
    )
    # bare's batches last well under a second: their rates are noisy whatever the machine.
    warn_if_noisy([i for i in instances if i.setup.scanned])


# --- main ---------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200, help="messages per batch")
    parser.add_argument("--sessions", type=int, default=8, help="parallel SMTP sessions")
    parser.add_argument("--recipients", type=int, default=2, help="recipients per message")
    parser.add_argument("--rounds", type=int, default=3, help="batches per setup")
    parser.add_argument("--size", type=int, default=4096, help="body bytes (smtp-source -l)")
    parser.add_argument(
        "--spamd-children", type=int, default=0, help="spamd children (default: --sessions)"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated setup names: " + ",".join(SETUPS_BY_NAME)
    )
    parser.add_argument("--keep", action="store_true", help="keep the run folder")
    options = parser.parse_args()
    options.spamd_children = options.spamd_children or options.sessions
    return options


def main() -> None:
    options = parse_arguments()
    # A SIGTERM unwinds like Ctrl-C, so that every Postfix, milter and spamd is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    idle_load = os.getloadavg()[0]
    setups = chosen(options.only, SETUPS_BY_NAME)
    load = Load(options.messages, options.sessions, options.recipients, options.size)
    warm_up = Load(options.sessions * 4, options.sessions, options.recipients, options.size)
    with run_directory(options.keep) as root, ExitStack() as stack:
        # The tag-mode store serves every setup but sekisho+quarantine (Postfix reads the
        # mailbox list from it); the quarantine-mode store is made only when needed.
        stores: dict[bool, tuple[str, Path]] = {}
        for quarantine in sorted({setup.quarantine for setup in setups}):
            folder = root / ("quarantine" if quarantine else "tag")
            folder.mkdir(mode=0o755)
            stores[quarantine] = open_store(folder, load.addresses, stack)
            turn_spam_scan_on(stores[quarantine][0], load.addresses, quarantine)
        spamd = BenchSpamd(root / "spamd", children=options.spamd_children)
        print(f"starting spamd with {spamd.children} children ...", flush=True)
        stack.callback(spamd.stop_and_wait)
        spamd.start()
        instances: list[ScanInstance] = []
        for setup in setups:
            print(f"starting {setup.name} ...", flush=True)
            try:
                instance = start_instance(setup, root, stores[setup.quarantine], spamd, stack)
                run_batch(instance, warm_up, spamd)
            except (TimeoutError, RuntimeError, subprocess.CalledProcessError) as error:
                print(f"  {setup.name} left out, it does not work: {last_line(error)}")
                continue
            instances.append(instance)
        play_rounds(instances, options.rounds, lambda i: run_batch(i, load, spamd))
        report(instances, setups, load, options, idle_load)
    if len(instances) < len(setups):
        sys.exit("a setup was left out: its figures are missing, see above")


if __name__ == "__main__":
    main()
