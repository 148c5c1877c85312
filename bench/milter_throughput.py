"""Milter throughput: how much of a real Postfix's speed is left with sekisho's milter in it.

One invocation starts a private Postfix instance (sekisho.devstack.postfix) for each setup,
all on 127.0.0.1, and pushes the same load through each of them:

  bare                 no milter at all (smtpd_milters empty)
  noop-unix            bench/noop_milter.py, the floor: a pymilter milter that receives
                       envelope, headers and body and decides nothing, on a unix socket
  noop-tcp             the same on inet:, libmilter as pymilter ships it (Nagle on)
  noop-tcp+nodelay     the same with sekisho's TCP_NODELAY trick: the fair floor for TCP
  sekisho-unix         `sekisho milter`; every recipient is an account with 50 From-reject
                       entries (spamN.example) that the mail does not match
  sekisho-tcp          the same on inet:
  sekisho-unix+junk    extra, not in the goals: --junk-share of the mail comes from a
                       sender on the first recipient's list, so that copy is quarantined
  sekisho-tcp+junk     the same on inet:, where quarantining answers end-of-message with
                       two packets (delete recipient, accept): the case Nagle would stall

The load is smtp-source(1) from the postfix package: --sessions parallel SMTP sessions, a
new connection per message (as inbound MX traffic), each message to --recipients mailboxes
(smtp-source -r names them bench@, 2bench@, 3bench@ ... example.jp). Each batch is timed
from the start of smtp-source to

  accepted   smtp-source's exit: every message has had its 250 after DATA;
  delivered  the last "status=sent" in Postfix's log: every copy is in its Maildir.

The Maildir files are counted after each batch, so a lost message is an error, not a
faster figure. The CPU time each batch cost is taken from /proc (the Postfix instance:
master and children; the milter process) and getrusage (smtp-source), per message. On a
machine whose CPUs the load saturates, the "CPU cost" ratio predicts the throughput ratio
and is steadier than the rates when other work shares the machine.

Each instance first gets a warm-up batch (spawns smtpd, cleanup, virtual and the milter's
threads); then the setups take turns, --rounds times, each round starting with the next
setup, and the median round is reported. The run folder is made with tempfile (honours
TMPDIR): TMPDIR=/dev/shm takes the disk's fsync latency out of the figures.

Goals, on delivered messages per second: sekisho >= 95 % of the floor (the no-op milter
on the same transport) and >= 80 % of bare Postfix.

    .venv/bin/python bench/milter_throughput.py [--messages 1000] [--sessions 16] [--rounds 5]
"""

from __future__ import annotations

import argparse
import grp
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import IO, Any, Protocol, TypeVar

from sekisho.devstack.ports import free_port, wait_for_listener
from sekisho.devstack.postfix import VMAIL_UID, PostfixInstance
from sekisho.devstack.processes import milter_process, stop_process
from sekisho.rules.lists import REJECT_FROM
from sekisho.store.accounts import add_account, add_domain, require_account
from sekisho.store.db import Store
from sekisho.store.lists import add_values
from sekisho.store.migrate import upgrade

DOMAIN = "example.jp"
LOCAL_PART = "bench"
SENDER = "load@sender.example"
JUNK_SENDER = "load@junk.example"
JUNK_ENTRY = "junk.example"  # on the first recipient's list, instead of one spamN entry
REJECT_ENTRIES = 50
NOOP_MILTER = Path(__file__).with_name("noop_milter.py")
POLL_SECONDS = 0.01
NOISY_SPREAD = 0.20  # rounds of one setup this far apart: the machine is not quiet
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
S = TypeVar("S")  # a benchmark's setup
P = TypeVar("P", bound="Played")  # a benchmark's started setup


@dataclass(frozen=True)
class Setup:
    name: str
    milter: str = ""  # "", "noop" or "sekisho"
    transport: str = "unix"  # or "inet"
    nodelay: bool = False  # noop only: TCP_NODELAY on libmilter's listener
    junk: bool = False  # a share of the mail is quarantined for the first recipient


SETUPS = (
    Setup("bare"),
    Setup("noop-unix", "noop"),
    Setup("noop-tcp", "noop", "inet"),
    Setup("noop-tcp+nodelay", "noop", "inet", nodelay=True),
    Setup("sekisho-unix", "sekisho"),
    Setup("sekisho-tcp", "sekisho", "inet"),
    Setup("sekisho-unix+junk", "sekisho", junk=True),
    Setup("sekisho-tcp+junk", "sekisho", "inet", junk=True),
)

SETUPS_BY_NAME = {setup.name: setup for setup in SETUPS}

# (numerator, denominator, goal or None): judged on delivered messages per second.
RATIOS = (
    ("sekisho-unix", "noop-unix", 0.95),
    ("sekisho-unix", "bare", 0.80),
    ("sekisho-tcp", "noop-tcp+nodelay", 0.95),
    ("sekisho-tcp", "noop-tcp", None),
    ("sekisho-tcp", "bare", 0.80),
    ("noop-unix", "bare", None),
    ("noop-tcp", "bare", None),
    ("noop-tcp+nodelay", "bare", None),
    ("sekisho-unix+junk", "sekisho-unix", None),
    ("sekisho-tcp+junk", "sekisho-tcp", None),
)


@dataclass(frozen=True)
class Load:
    messages: int
    sessions: int
    recipients: int
    size: int  # payload bytes (smtp-source -l); 0: smtp-source's own four-line body

    @property
    def addresses(self) -> list[str]:
        """What ``smtp-source -r N -t bench@…`` sends to: Nbench@, …, 2bench@, bench@."""
        numbered = [f"{n}{LOCAL_PART}@{DOMAIN}" for n in range(self.recipients, 1, -1)]
        return [f"{LOCAL_PART}@{DOMAIN}", *numbered]


@dataclass(frozen=True)
class Batch:
    messages: int
    accepted: float  # seconds until the last 250 after DATA
    delivered: float  # seconds until the last copy was in its Maildir
    quarantined: int
    postfix_cpu: float  # CPU seconds used during the batch by the Postfix instance,
    milter_cpu: float  # ... by the milter process
    client_cpu: float  # ... and by smtp-source


@dataclass
class Instance:
    """One setup's running Postfix and the batches measured on it."""

    setup: Setup
    postfix: PostfixInstance
    milter_pid: int | None
    batches: list[Batch] = field(default_factory=list)

    @property
    def mail_root(self) -> Path:
        return self.postfix.mail_root

    def milter_log_tail(self, lines: int = 5) -> str:
        return log_tail(self.postfix.run / "milter.log", lines)


def log_tail(log: Path, lines: int = 5) -> str:
    """The last lines of a log, indented for an error message."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return "\n".join("    " + line for line in text.splitlines()[-lines:])


# --- the store and the processes ---------------------------------------------------------


def create_store(path: Path, addresses: list[str]) -> str:
    """sekisho's SQLite store: the domain, one account per recipient, 50 entries each."""
    url = f"sqlite:///{path}"
    upgrade(url)
    store = Store(url)
    try:
        with store.transaction() as session:
            add_domain(session, DOMAIN, "bench", f"smtp.{DOMAIN}", f"pop.{DOMAIN}")
            for index, address in enumerate(addresses):
                add_account(session, address, "bench-password")
                entries = [f"spam{i}.example" for i in range(REJECT_ENTRIES)]
                if index == 0:
                    entries[-1] = JUNK_ENTRY
                add_values(session, require_account(session, address).id, REJECT_FROM, entries)
    finally:
        store.dispose()
    return url


def start_noop_milter(listen: str, nodelay: bool, log: IO[bytes]) -> subprocess.Popen[bytes]:
    command = [sys.executable, str(NOOP_MILTER), "--listen", listen]
    process = subprocess.Popen(
        [*command, "--nodelay"] if nodelay else command, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_listener(listen)
    except TimeoutError:
        stop_process(process, grace=0.5)
        raise
    return process


def start_instance(
    setup: Setup,
    root: Path,
    store_url: str,
    store_path: Path,
    stack: ExitStack,
    settings: Mapping[str, str] | None = None,
) -> Instance:
    """The setup's milter (if any) and Postfix; ``stack`` stops both, whatever happens.
    ``settings``: more SEKISHO_* variables for sekisho's milter."""
    run = root / setup.name.replace("+", "-")
    run.mkdir()
    # smtpd (user postfix) must reach the milter socket, virtual (uid 5000) the Maildirs.
    run.chmod(0o755)
    mail_root = run / "mail"
    milter_log = run / "milter.log"
    milter: subprocess.Popen[bytes] | None = None
    listen = ""
    if setup.transport == "inet":
        listen = f"inet:127.0.0.1:{free_port()}"
    elif setup.milter:
        listen = f"unix:{run / 'milter.sock'}"
    if setup.milter == "sekisho":
        environment = {
            "SEKISHO_DATABASE_URL": store_url,
            "SEKISHO_MAIL_ROOT": str(mail_root),
            "SEKISHO_MAILBOX_OWNER": f"{VMAIL_UID}:{VMAIL_UID}",
            "SEKISHO_SECRET_KEY": "bench",
            **(settings or {}),
        }
        sekisho = milter_process(environment, listen, milter_log)
        stack.callback(sekisho.stop, 0.5)
        milter = sekisho.process
    elif setup.milter == "noop":
        log = stack.enter_context(milter_log.open("wb"))
        milter = start_noop_milter(listen, setup.nodelay, log)
        stack.callback(stop_process, milter, 0.5)
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
        # Its socket was open for a moment: the milter died after opening it.
        raise RuntimeError(f"the milter exited: {milter_log.read_text(errors='replace')}")
    return Instance(setup, postfix, milter.pid if milter is not None else None)


# --- one batch -----------------------------------------------------------------------------


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, ... (index 11: utime)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError):
        return []


def _ticks(fields: list[str], first: int, last: int) -> int:
    return sum(int(value) for value in fields[first:last])


def cpu_seconds(instance: Instance) -> tuple[float, float]:
    """CPU time used so far by (the Postfix instance, the milter), every thread included.

    Postfix: the master, what its living children used, and what the children it reaped
    used (cutime, cstime). Differences around a batch give the batch's cost, which, unlike
    the rates, hardly depends on what else runs on the machine.
    """
    master = int((instance.postfix.run / "pf-spool" / "pid" / "master.pid").read_text())
    postfix = _ticks(_stat_fields(master), 11, 15)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            fields = _stat_fields(entry.name)
            if fields and int(fields[1]) == master:
                postfix += _ticks(fields, 11, 13)
    milter = 0
    if instance.milter_pid is not None:
        milter = _ticks(_stat_fields(instance.milter_pid), 11, 13)
    return postfix / CLOCK_TICKS, milter / CLOCK_TICKS


class AppendedLines:
    """The whole lines appended to a log since this was created."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = path.stat().st_size if path.exists() else 0
        self._partial = b""

    def new_lines(self) -> list[bytes]:
        with self._path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        return lines


class LogCounter:
    """Counts ``status=sent`` lines appended to Postfix's log since it was created."""

    def __init__(self, path: Path) -> None:
        self._lines = AppendedLines(path)
        self.sent = 0

    def update(self) -> int:
        for line in self._lines.new_lines():
            if b" status=sent " in line:
                self.sent += 1
            elif b" status=" in line or b"milter-reject" in line:
                raise RuntimeError("Postfix did not deliver: " + line.decode(errors="replace"))
        return self.sent


def count_files(mail_root: Path, addresses: list[str], folder: str) -> int:
    total = 0
    for address in addresses:
        local = address.partition("@")[0]
        try:
            total += len(os.listdir(mail_root / DOMAIN / local / folder))
        except FileNotFoundError:
            continue
    return total


def smtp_source(
    port: int, sender: str, messages: int, sessions: int, load: Load
) -> subprocess.Popen[bytes]:
    command = ["smtp-source", "-s", str(sessions), "-m", str(messages)]
    command += ["-r", str(load.recipients), "-f", sender, "-t", f"{LOCAL_PART}@{DOMAIN}"]
    command += ["-S", "sekisho milter benchmark"]
    if load.size:
        command += ["-l", str(load.size)]
    return subprocess.Popen(
        [*command, f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def client_cpu_seconds() -> float:
    """CPU time of this process's children that have been waited for (smtp-source)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def check_exit_status(clients: list[subprocess.Popen[bytes]]) -> None:
    for client in clients:
        if client.returncode != 0:
            assert client.stderr is not None
            error = client.stderr.read().decode(errors="replace")
            raise RuntimeError(f"smtp-source failed: {error}")


def check_deadline(deadline: float, progress: str) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"timed out: {progress}")


def run_batch(instance: Instance, load: Load, junk_share: float) -> Batch:
    """Send ``load`` and wait until every copy is delivered (or quarantined)."""
    junk = round(load.messages * junk_share)
    junk_sessions = max(1, round(load.sessions * junk_share)) if junk else 0
    parts = [(SENDER, load.messages - junk, load.sessions - junk_sessions)]
    if junk:
        parts.append((JUNK_SENDER, junk, junk_sessions))
    expected = load.messages * load.recipients - junk  # the first copy of junk is quarantined
    addresses = load.addresses
    files_before = count_files(instance.mail_root, addresses, "new")
    junk_before = count_files(instance.mail_root, addresses[:1], ".Junk/new")
    log = LogCounter(instance.postfix.log_file)
    timeout = 30 + load.messages / 20
    cpu_before = cpu_seconds(instance)
    client_before = client_cpu_seconds()
    start = time.monotonic()
    clients = [
        smtp_source(instance.postfix.smtp_port, sender, messages, sessions, load)
        for sender, messages, sessions in parts
    ]
    accepted = delivered = 0.0
    try:
        while not (accepted and delivered):
            if not accepted and all(client.poll() is not None for client in clients):
                accepted = time.monotonic() - start
                check_exit_status(clients)
            if not delivered and log.update() >= expected:
                delivered = time.monotonic() - start
            check_deadline(start + timeout, f"{log.sent} of {expected} copies delivered")
            time.sleep(POLL_SECONDS)
    except BaseException as error:
        error.add_note(f"{instance.setup.name}: Postfix log:\n{instance.postfix.log_tail()}")
        raise
    finally:
        for client in clients:
            stop_process(client, grace=0)
            if client.stderr is not None:
                client.stderr.close()
    files = count_files(instance.mail_root, addresses, "new") - files_before
    quarantined = count_files(instance.mail_root, addresses[:1], ".Junk/new") - junk_before
    if files != expected or quarantined != junk:
        raise RuntimeError(
            f"{instance.setup.name}: {files} of {expected} Maildir files, "
            f"{quarantined} of {junk} quarantined"
        )
    postfix_cpu, milter_cpu = cpu_seconds(instance)
    return Batch(
        messages=load.messages,
        accepted=accepted,
        delivered=max(accepted, delivered),
        quarantined=quarantined,
        postfix_cpu=postfix_cpu - cpu_before[0],
        milter_cpu=milter_cpu - cpu_before[1],
        client_cpu=client_cpu_seconds() - client_before,
    )


# --- report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """The median round of one setup, and its CPU cost per message."""

    accepted_seconds: float
    accepted_rate: float
    delivered_seconds: float
    delivered_rate: float
    postfix_ms: float
    milter_ms: float
    client_ms: float

    @property
    def total_ms(self) -> float:
        return self.postfix_ms + self.milter_ms + self.client_ms

    @classmethod
    def of(cls, batches: list[Batch]) -> Summary:
        return cls(
            accepted_seconds=median(b.accepted for b in batches),
            accepted_rate=median(b.messages / b.accepted for b in batches),
            delivered_seconds=median(b.delivered for b in batches),
            delivered_rate=median(b.messages / b.delivered for b in batches),
            postfix_ms=median(1000 * b.postfix_cpu / b.messages for b in batches),
            milter_ms=median(1000 * b.milter_cpu / b.messages for b in batches),
            client_ms=median(1000 * b.client_cpu / b.messages for b in batches),
        )


class Timed(Protocol):
    """A batch of either benchmark."""

    @property
    def messages(self) -> int: ...
    @property
    def accepted(self) -> float: ...
    @property
    def delivered(self) -> float: ...


class Rates(Protocol):
    """A setup's summary of either benchmark: what the ratios compare."""

    @property
    def accepted_rate(self) -> float: ...
    @property
    def delivered_rate(self) -> float: ...
    @property
    def total_ms(self) -> float: ...


class Named(Protocol):
    @property
    def name(self) -> str: ...


class Played(Protocol):
    """A started setup of either benchmark (its batches: Batch or ScanBatch)."""

    @property
    def setup(self) -> Named: ...
    @property
    def batches(self) -> list[Any]: ...
    def milter_log_tail(self, lines: int = 5) -> str: ...


def spread_of(batches: Sequence[Timed]) -> float:
    """How far the fastest round is above the slowest one (0.25: 25 % faster)."""
    rates = [b.messages / b.delivered for b in batches]
    return max(rates) / min(rates) - 1


def print_ratios(
    ratios: Sequence[tuple[str, str, float | None]],
    summaries: Mapping[str, Rates],
    wanted: set[str],
) -> None:
    """Each ratio of two setups both asked for; against its goal when it has one."""
    for numerator, denominator, goal in ratios:
        if not {numerator, denominator} <= wanted:
            continue
        name = f"{numerator} / {denominator}"
        if numerator not in summaries or denominator not in summaries:
            print(f"{name:<37} {'n/a':>8} {'n/a':>9} {'n/a':>8}  (a setup was left out)")
            continue
        mine, base = summaries[numerator], summaries[denominator]
        delivered = mine.delivered_rate / base.delivered_rate
        cost = base.total_ms / mine.total_ms
        verdict = ""
        if goal is not None:
            verdict = (
                f">= {goal:.2f}: delivered {'met' if delivered >= goal else 'NOT MET'}, "
                f"CPU cost {'met' if cost >= goal else 'NOT MET'}"
            )
        print(
            f"{name:<37} {mine.accepted_rate / base.accepted_rate:>8.2f} {delivered:>9.2f} "
            f"{cost:>8.2f}  {verdict}".rstrip()
        )


def warn_if_noisy(instances: Sequence[Played]) -> None:
    spread = max(((spread_of(i.batches), i.setup.name) for i in instances), default=(0.0, ""))
    if spread[0] > NOISY_SPREAD:
        print(
            f"\nThe delivered rate of {spread[1]} varied by {spread[0]:.0%} between rounds: "
            "something else loads this machine, so the CPU cost ratio is the steadier figure."
        )


def report(
    instances: list[Instance], wanted: list[Setup], load: Load, rounds: int, idle_load: float
) -> None:
    print()
    print(
        f"{load.messages} messages x {load.recipients} recipients per batch, "
        f"{load.sessions} smtp-source sessions, median of {rounds} round(s); "
        f"{os.cpu_count()} CPUs, load average {idle_load:.2f} before the start"
    )
    header = (
        f"{'':<19} {'':>5} {'accepted':>14} {'delivered':>14}   {'CPU ms per message':>25}\n"
        f"{'setup':<19} {'msgs':>5} {'s':>6} {'msg/s':>7} {'s':>6} {'msg/s':>7}   "
        f"{'postfix':>7} {'milter':>6} {'client':>6} {'total':>6}  delivered msg/s by round"
    )
    print(header)
    print("-" * len(header.splitlines()[1]))
    summaries: dict[str, Summary] = {}
    for instance in instances:
        batches = instance.batches
        summary = summaries[instance.setup.name] = Summary.of(batches)
        print(
            f"{instance.setup.name:<19} {batches[0].messages:>5} "
            f"{summary.accepted_seconds:>6.2f} {summary.accepted_rate:>7.0f} "
            f"{summary.delivered_seconds:>6.2f} {summary.delivered_rate:>7.0f}   "
            f"{summary.postfix_ms:>7.2f} {summary.milter_ms:>6.2f} {summary.client_ms:>6.2f} "
            f"{summary.total_ms:>6.2f}  "
            + " ".join(f"{b.messages / b.delivered:.0f}" for b in batches)
        )
        if instance.setup.junk:
            print(
                f"{'':<19} ({batches[0].quarantined} of {batches[0].messages} messages "
                f"quarantined for {load.addresses[0]}, the other copies delivered)"
            )
    print()
    print(f"{'ratio':<37} {'accepted':>8} {'delivered':>9} {'CPU cost':>8}  goal")
    print_ratios(RATIOS, summaries, {setup.name for setup in wanted})
    warn_if_noisy(instances)


# --- main ---------------------------------------------------------------------------------


def last_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[-1] if lines else type(error).__name__


@contextmanager
def stderr_into(path: Path) -> Iterator[None]:
    """Send this process's stderr (and its children's) to ``path`` for a while.

    postconf warns about the unused ``sekisho_milter`` of the bare setup at every start.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with path.open("ab") as target:
            os.dup2(target.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextmanager
def run_directory(keep: bool) -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="sekisho-bench-"))
    root.chmod(0o755)  # Postfix and uid 5000 traverse it
    try:
        yield root
    finally:
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per batch")
    parser.add_argument("--sessions", type=int, default=16, help="parallel SMTP sessions")
    parser.add_argument("--recipients", type=int, default=2, help="recipients per message")
    parser.add_argument("--rounds", type=int, default=5, help="batches per setup")
    parser.add_argument("--size", type=int, default=0, help="payload bytes (smtp-source -l)")
    parser.add_argument("--junk-share", type=float, default=0.25, help="for sekisho-unix+junk")
    parser.add_argument(
        "--only", default="", help="comma-separated setup names: " + ",".join(SETUPS_BY_NAME)
    )
    parser.add_argument("--keep", action="store_true", help="keep the run folder")
    return parser.parse_args()


def open_store(root: Path, addresses: list[str], stack: ExitStack) -> tuple[str, Path]:
    """Create the store and keep it open, so that Postfix can read it: (URL, file)."""
    path = root / "store" / "sekisho.db"
    url = create_store(path, addresses)
    # Postfix (user postfix) reads the mailbox list from the store. A reader of a WAL
    # database needs its -wal and -shm files to exist (someone holds it open) and, while
    # the milter writes quarantine rows, write access to -shm, or lookups fail with
    # "attempt to write a readonly database". SQLite gives -wal/-shm the database's
    # owner and mode.
    os.chown(path, -1, grp.getgrnam("postfix").gr_gid)
    path.chmod(0o660)
    keeper = Store(url)
    stack.callback(keeper.dispose)
    stack.enter_context(keeper.engine.connect()).exec_driver_sql("SELECT 1 FROM accounts")
    return url, path


def chosen(only: str, by_name: Mapping[str, S]) -> list[S]:
    """The setups ``--only`` names (comma-separated), or all; an unknown name exits."""
    names = [name for name in only.split(",") if name] or list(by_name)
    unknown = [name for name in names if name not in by_name]
    if unknown:
        sys.exit(f"unknown setup(s): {', '.join(unknown)}")
    return [by_name[name] for name in names]


def play_rounds(instances: list[P], rounds: int, run: Callable[[P], Timed]) -> None:
    """``rounds`` batches per instance, appended to its batches; a setup that fails is
    left out of the rest. Each round starts with another setup, so that none always
    follows the same one."""
    for round_number in range(1, rounds + 1):
        shift = (round_number - 1) % max(1, len(instances))
        for instance in instances[shift:] + instances[:shift]:
            try:
                batch = run(instance)
            except (TimeoutError, RuntimeError) as error:
                print(f"  {instance.setup.name} left out, it failed: {last_line(error)}")
                print(instance.milter_log_tail(), flush=True)
                instances.remove(instance)
                continue
            instance.batches.append(batch)
            print(
                f"round {round_number} {instance.setup.name:<19} "
                f"accepted {batch.accepted:6.2f} s  delivered {batch.delivered:6.2f} s",
                flush=True,
            )


def main() -> None:
    options = parse_arguments()
    # A SIGTERM unwinds like Ctrl-C, so that every Postfix and milter is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    idle_load = os.getloadavg()[0]
    setups = chosen(options.only, SETUPS_BY_NAME)
    load = Load(options.messages, options.sessions, options.recipients, options.size)
    warm_up = Load(options.sessions * 4, options.sessions, options.recipients, options.size)
    with run_directory(options.keep) as root, ExitStack() as stack:
        store_url, store_path = open_store(root, load.addresses, stack)
        instances = []
        for setup in setups:
            print(f"starting {setup.name} ...", flush=True)
            try:
                instance = start_instance(setup, root, store_url, store_path, stack)
                run_batch(instance, warm_up, options.junk_share if setup.junk else 0.0)
            except (TimeoutError, RuntimeError, subprocess.CalledProcessError) as error:
                print(f"  {setup.name} left out, it does not work: {last_line(error)}")
                continue
            instances.append(instance)
        play_rounds(
            instances,
            options.rounds,
            lambda i: run_batch(i, load, options.junk_share if i.setup.junk else 0.0),
        )
        report(instances, setups, load, options.rounds, idle_load)


if __name__ == "__main__":
    main()
