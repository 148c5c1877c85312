"""The [spam]-tagged copy: what a copy for some recipients costs against tagging in place.

A spam mail to mailboxes of which some want spam delivered with a "[spam]" subject
(SpamSetting(enabled=True, quarantine=False)) and others scan nothing needs a separate
tagged copy for the tagging ones: a milter gives one content to every recipient. When
every recipient tags, the subject is changed in place and no copy is made: the natural
baseline. One invocation starts one rspamd (sekisho.devstack.spam, its normal worker with
one process per CPU) and, per setup, a private Postfix (sekisho.devstack.postfix) and a
`sekisho milter` on a unix socket, each on its own SQLite store, all on 127.0.0.1, and
pushes the same GTUBE spam through each:

  in-place    both recipients tag: the subject is changed in place, Postfix delivers both
  mixed       the first recipient tags, the second scans nothing: the tagged copy path
  quarantine  both quarantine (spam folder .Junk), for context: the milter writes both
              copies and Postfix discards the message

How the tagged copy is made depends on the sekisho imported (printed at the start):
since d683ce1 the milter writes it into the tagging mailbox's inbox itself (Maildir new/,
a file name starting with "K", fsynced; its ledger row in the message's one store
transaction); before, it sent it to Postfix's re-injection listener (reinject_smtp, no
milter) and recorded the ledger row in a transaction of its own. This script runs with
either: it gives the milter SEKISHO_REINJECT_SMTP (the instance's re-injection listener,
which the devstack Postfix always starts) and expects the copies the way the imported
sekisho makes them. To measure an older commit, run this file with PYTHONPATH at that
commit's tree (see bench/README.md).

The load is smtp-source(1) -F: --sessions parallel SMTP sessions, a new connection per
message, each message to 2 mailboxes (bench@, 2bench@), the same GTUBE message padded to
--size bytes of body (4 KB; at most 8,000: rspamd 3.4 looks for GTUBE only in a text part
of up to 8 KB, and scores a larger one -0.1). smtp-source sends the file as it is, so
every message would be the same bytes, and sekisho keys its copies by the message's
digest (a retry must find its copy): each Postfix adds the missing Message-ID and Date
(always_add_missing_headers = yes), which the milter sees, so each message has its own
key. The other setting beyond deploy/postfix is in_flow_delay = 0 (POSTFIX_SETTINGS below
says why: without it the quarantine setup runs at 10 msg/s).

Each batch is timed from the start of smtp-source to

  accepted   smtp-source's exit: every message has had its 250 after DATA (a copy the
             milter writes is in its folder before that 250);
  delivered  the last "status=sent" in Postfix's log the setup needs: every copy is in
             its Maildir.

"ms/msg" is the delivered time divided by the messages (wall clock, at that
concurrency). After each batch, outside the timing, the benchmark checks the outcome, so
a setup that silently skipped its work is an error, not a faster figure:

  - every mailbox has exactly one new file per message in the folder its setting says
    (inbox, or .Junk for quarantine), none elsewhere, each with Delivered-To naming it;
  - a tagging mailbox's copies have "Subject: [spam] ..." and X-Sekisho-Spam-Score naming
    rspamd; the scan-off mailbox's copies the subject as sent; quarantined copies
    X-Sekisho-Quarantine-Reason: rule=spam;
  - in mixed, the tagged copies are "K" files the milter wrote (direct write) or files
    Postfix delivered (re-injection), whichever the imported sekisho does, and the milter
    logged one "tagged_copy queue_id=" line per message (none in the other setups);
  - Postfix logged exactly the deliveries the setup needs (2 per message in place, 1 or 2
    in mixed, 0 quarantined) and nothing else (no deferral, bounce or reject).

CPU time per message comes from /proc: the Postfix instance (master and children, the
re-injected copy included), the milter, rspamd (whole process tree) and smtp-source
(getrusage). On 2 saturated cores the CPU cost is the steadier figure; the difference of
mixed and in-place is what the copy costs per message.

Each instance first gets a warm-up batch; then the setups take turns, --rounds times,
each round starting with the next setup, and the median round is reported (as
bench/milter_throughput.py and bench/peers.py, whose pieces this reuses). The defaults
take ~1 minute on 2 cores.

    .venv/bin/python bench/tagged_copy.py [--messages 1000] [--sessions 10] [--rounds 3]
        [--size 4096] [--only in-place,mixed,quarantine] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from statistics import median

from milter_throughput import (
    DOMAIN,
    POLL_SECONDS,
    SENDER,
    AppendedLines,
    Load,
    LogCounter,
    check_deadline,
    chosen,
    last_line,
    log_tail,
    open_store,
    play_rounds,
    print_ratios,
    run_directory,
    stderr_into,
    warn_if_noisy,
)
from scan_throughput import timed_load, tree_cpu_seconds

import sekisho
import sekisho.milter.tagged_copy
from sekisho.devstack.ports import free_port
from sekisho.devstack.postfix import VMAIL_UID, PostfixInstance
from sekisho.devstack.processes import milter_process
from sekisho.devstack.spam import RspamdInstance
from sekisho.rules.model import SpamSetting
from sekisho.store.accounts import require_account
from sekisho.store.db import Store
from sekisho.store.spam_settings import set_spam_setting

# The GTUBE line as tests/e2e/test_spam_mailflow.py sends it: rspamd's GTUBE rule.
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
SUBJECT = "big offer"
GTUBE_LIMIT = 8000  # rspamd 3.4 looks for GTUBE in text parts up to 8 KB only (8,300: -0.1)
RECIPIENTS = 2
HEAD_BYTES = 16384  # a copy's header fields are within this
TAGGED_COPY_LINE = re.compile(rb"\btagged_copy queue_id=")
# Beyond deploy/postfix (see above): a Message-ID for every message, so that each has its
# own key; and no in_flow_delay. A discarded message gives back none of the flow tokens
# cleanup takes, so with every message discarded (quarantine) the tokens run out after
# ~100 messages and each message then waits the whole 1 s in cleanup (10 msg/s at 10
# sessions, the first RCPT of each session); a Postfix that delivers mail gets them back.
POSTFIX_SETTINGS = {"always_add_missing_headers": "yes", "in_flow_delay": "0s"}
# The imported sekisho writes the tagged copy itself (d683ce1 and later) or re-injects it.
DIRECT_WRITE = hasattr(sekisho.milter.tagged_copy, "TaggedCopies")
TAG, OFF, QUARANTINE = "tag", "off", "quarantine"
SETTINGS = {
    TAG: SpamSetting(enabled=True, quarantine=False),
    OFF: SpamSetting(enabled=False),
    QUARANTINE: SpamSetting(enabled=True, quarantine=True),
}


@dataclass(frozen=True)
class CopySetup:
    name: str
    modes: tuple[str, str]  # the spam scan of bench@ and of 2bench@: TAG, OFF or QUARANTINE

    @property
    def copies(self) -> bool:
        """Some recipients tag, others not: the tagged copy path."""
        return TAG in self.modes and any(mode != TAG for mode in self.modes)

    def postfix_deliveries(self) -> int:
        """The "status=sent" lines per message: a copy per inbox, but a tagged copy the
        milter writes itself; quarantined copies are the milter's too."""
        inboxes = sum(1 for mode in self.modes if mode != QUARANTINE)
        return inboxes - 1 if self.copies and DIRECT_WRITE else inboxes


SETUPS = (
    CopySetup("in-place", (TAG, TAG)),
    CopySetup("mixed", (TAG, OFF)),
    CopySetup("quarantine", (QUARANTINE, QUARANTINE)),
)
SETUPS_BY_NAME = {setup.name: setup for setup in SETUPS}

# (numerator, denominator, goal): on delivered messages per second and CPU cost.
RATIOS = (
    ("mixed", "in-place", None),
    ("quarantine", "in-place", None),
    ("mixed", "quarantine", None),
)


@dataclass(frozen=True)
class CopyBatch:
    messages: int
    accepted: float  # seconds until the last 250 after DATA
    delivered: float  # seconds until the last copy was in its Maildir
    postfix_cpu: float  # CPU seconds used during the batch by the Postfix instance,
    milter_cpu: float  # ... by the milter,
    rspamd_cpu: float  # ... by rspamd
    client_cpu: float  # ... and by smtp-source


@dataclass
class CopyInstance:
    setup: CopySetup
    postfix: PostfixInstance
    milter_pid: int
    milter_log: Path
    batches: list[CopyBatch] = field(default_factory=list)

    @property
    def mail_root(self) -> Path:
        return self.postfix.mail_root

    def milter_log_tail(self, lines: int = 5) -> str:
        return log_tail(self.milter_log, lines)


# --- the message, the stores and the processes -------------------------------------------


def write_message(path: Path, size: int) -> None:
    """The GTUBE message smtp-source -F sends: header fields, GTUBE, text up to ``size``
    body bytes. No Message-ID or Date: each Postfix adds them (see above)."""
    lines = [GTUBE, ""]
    body = len(GTUBE) + 2
    number = 0
    while body < size:
        number += 1
        line = f"Line {number} of the offer, here to give the message a usual size."
        lines.append(line)
        body += len(line) + 1
    head = [f"From: <{SENDER}>", f"To: <bench@{DOMAIN}>", f"Subject: {SUBJECT}", ""]
    path.write_text("\n".join(head + lines) + "\n")


def set_spam_scans(store_url: str, addresses: list[str], modes: Sequence[str]) -> None:
    store = Store(store_url)
    try:
        with store.transaction() as session:
            for address, mode in zip(addresses, modes, strict=True):
                set_spam_setting(session, require_account(session, address).id, SETTINGS[mode])
    finally:
        store.dispose()


def start_instance(
    setup: CopySetup, root: Path, store: tuple[str, Path], rspamd: RspamdInstance, stack: ExitStack
) -> CopyInstance:
    """The setup's milter and Postfix; ``stack`` stops both, whatever happens."""
    store_url, store_path = store
    run = root / setup.name
    run.mkdir()
    run.chmod(0o755)  # smtpd (user postfix) reaches the socket, virtual (uid 5000) the mail
    mail_root = run / "mail"
    milter_log = run / "milter.log"
    listen = f"unix:{run / 'milter.sock'}"
    reinject_port = free_port()
    environment = {
        "SEKISHO_DATABASE_URL": store_url,
        "SEKISHO_MAIL_ROOT": str(mail_root),
        "SEKISHO_MAILBOX_OWNER": f"{VMAIL_UID}:{VMAIL_UID}",
        "SEKISHO_SECRET_KEY": "bench",
        "SEKISHO_SPAM_ENGINE": rspamd.url,
        # Where a sekisho before d683ce1 sends the tagged copy; unused since.
        "SEKISHO_REINJECT_SMTP": f"127.0.0.1:{reinject_port}",
    }
    sekisho_milter = milter_process(environment, listen, milter_log)
    stack.callback(sekisho_milter.stop, 0.5)
    milter = sekisho_milter.process
    assert milter is not None
    postfix = PostfixInstance(
        run=run,
        mail_root=mail_root,
        smtp_port=free_port(),
        reinject_port=reinject_port,
        milter=listen,
        database_url=f"sqlite:///{store_path}",
        domains=(DOMAIN,),
        extra_main=dict(POSTFIX_SETTINGS),
    )
    stack.callback(postfix.stop)
    with stderr_into(run / "postfix-start.log"):
        postfix.start()
    if milter.poll() is not None:
        raise RuntimeError(f"the milter exited: {milter_log.read_text(errors='replace')}")
    return CopyInstance(setup, postfix, milter.pid, milter_log)


def start_rspamd(root: Path, stack: ExitStack) -> tuple[RspamdInstance, int]:
    folder = root / "rspamd"
    folder.mkdir()
    rspamd = RspamdInstance(folder, workers=os.cpu_count() or 1)
    stack.callback(_stop_rspamd, rspamd)
    rspamd.start()
    deadline = time.monotonic() + 10
    while True:  # its CPU time is read through its pid
        with contextlib.suppress(OSError, ValueError):
            return rspamd, int(rspamd.pidfile.read_text().strip())
        check_deadline(deadline, "rspamd wrote no pidfile")
        time.sleep(POLL_SECONDS)


def _stop_rspamd(rspamd: RspamdInstance) -> None:
    rspamd.stop()
    with contextlib.suppress(TimeoutError):
        rspamd.wait_stopped()


# --- one batch -----------------------------------------------------------------------------


def folder_of(mail_root: Path, address: str, mode: str) -> Path:
    mailbox = mail_root / DOMAIN / address.partition("@")[0]
    return mailbox / ".Junk" / "new" if mode == QUARANTINE else mailbox / "new"


def listing(mail_root: Path, addresses: list[str]) -> dict[Path, set[str]]:
    """Every new/ folder a setup could write to (inbox and .Junk of each mailbox)."""
    folders: dict[Path, set[str]] = {}
    for address in addresses:
        for mode in (TAG, QUARANTINE):
            folder = folder_of(mail_root, address, mode)
            try:
                folders[folder] = set(os.listdir(folder))
            except FileNotFoundError:
                folders[folder] = set()
    return folders


def check_copy(setup: CopySetup, address: str, mode: str, path: Path) -> None:
    """One copy reads as its mailbox's setting says."""
    with path.open("rb") as copy:
        head = copy.read(HEAD_BYTES).partition(b"\n\n")[0]
    headers = BytesHeaderParser().parsebytes(head)
    problems = []
    if headers.get("Delivered-To") != address:
        problems.append(f"Delivered-To: {headers.get('Delivered-To')}")
    subject = str(headers.get("Subject"))
    score = str(headers.get("X-Sekisho-Spam-Score"))
    if mode == TAG and (subject != f"[spam] {SUBJECT}" or "(rspamd)" not in score):
        problems.append(f"not tagged: Subject: {subject}, X-Sekisho-Spam-Score: {score}")
    if mode == OFF and subject != SUBJECT:
        problems.append(f"Subject: {subject}")
    reason = str(headers.get("X-Sekisho-Quarantine-Reason"))
    if mode == QUARANTINE and not reason.startswith("rule=spam;"):
        problems.append(f"X-Sekisho-Quarantine-Reason: {reason}")
    if setup.copies and mode == TAG and path.name.startswith("K") != DIRECT_WRITE:
        way = "the milter" if DIRECT_WRITE else "Postfix"
        problems.append(f"a tagged copy not written by {way}")
    if problems:
        raise RuntimeError(f"{setup.name}: {path}: {'; '.join(problems)}")


def check_outcome(
    instance: CopyInstance, addresses: list[str], before: dict[Path, set[str]], messages: int
) -> None:
    """One new copy per message in each mailbox's folder, as its setting says; none
    elsewhere."""
    setup = instance.setup
    after = listing(instance.mail_root, addresses)
    wanted = {
        folder_of(instance.mail_root, address, mode): (address, mode)
        for address, mode in zip(addresses, setup.modes, strict=True)
    }
    for folder, names in after.items():
        new = names - before[folder]
        count = messages if folder in wanted else 0
        if len(new) != count:
            raise RuntimeError(f"{setup.name}: {len(new)} of {count} new files in {folder}")
        for name in sorted(new):
            check_copy(setup, *wanted[folder], folder / name)


def run_batch(instance: CopyInstance, load: Load, message: Path, rspamd_pid: int) -> CopyBatch:
    """Send ``load``, wait until every copy is delivered, then check the outcome."""
    setup = instance.setup
    addresses = load.addresses
    expected = load.messages * setup.postfix_deliveries()
    before = listing(instance.mail_root, addresses)
    log = LogCounter(instance.postfix.log_file)
    milter_lines = AppendedLines(instance.milter_log)
    master = int((instance.postfix.run / "pf-spool" / "pid" / "master.pid").read_text())

    def cpu() -> tuple[float, float, float]:
        return (
            tree_cpu_seconds(master),
            tree_cpu_seconds(instance.milter_pid),
            tree_cpu_seconds(rspamd_pid),
        )

    command = ["smtp-source", "-s", str(load.sessions), "-m", str(load.messages)]
    command += ["-r", str(RECIPIENTS), "-f", SENDER, "-t", f"bench@{DOMAIN}", "-F", str(message)]
    command.append(f"127.0.0.1:{instance.postfix.smtp_port}")

    def start_client() -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    timed = timed_load(
        instance.postfix,
        setup.name,
        load,
        log,
        expected,
        60 + load.messages * 0.3,
        cpu,
        start_client,
    )
    # --- outside the timing: did every copy arrive as the setup says? ---
    time.sleep(0.2)  # a delivery past the expected ones would be logged by now
    if log.update() != expected:
        raise RuntimeError(f"{setup.name}: Postfix delivered {log.sent} copies, not {expected}")
    check_outcome(instance, addresses, before, load.messages)
    copies = sum(1 for line in milter_lines.new_lines() if TAGGED_COPY_LINE.search(line))
    if copies != (load.messages if setup.copies else 0):
        raise RuntimeError(f"{setup.name}: the milter logged {copies} tagged copies")
    return CopyBatch(
        messages=load.messages,
        accepted=timed.accepted,
        delivered=timed.delivered,
        postfix_cpu=timed.cpu_spent[0],
        milter_cpu=timed.cpu_spent[1],
        rspamd_cpu=timed.cpu_spent[2],
        client_cpu=timed.client_cpu,
    )


# --- report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CopySummary:
    accepted_rate: float
    delivered_rate: float
    ms_per_message: float
    postfix_ms: float
    milter_ms: float
    rspamd_ms: float
    client_ms: float

    @property
    def total_ms(self) -> float:
        return self.postfix_ms + self.milter_ms + self.rspamd_ms + self.client_ms

    @classmethod
    def of(cls, batches: list[CopyBatch]) -> CopySummary:
        return cls(
            accepted_rate=median(b.messages / b.accepted for b in batches),
            delivered_rate=median(b.messages / b.delivered for b in batches),
            ms_per_message=median(1000 * b.delivered / b.messages for b in batches),
            postfix_ms=median(1000 * b.postfix_cpu / b.messages for b in batches),
            milter_ms=median(1000 * b.milter_cpu / b.messages for b in batches),
            rspamd_ms=median(1000 * b.rspamd_cpu / b.messages for b in batches),
            client_ms=median(1000 * b.client_cpu / b.messages for b in batches),
        )


def way_of_copy() -> str:
    if DIRECT_WRITE:
        return "written into the inbox by the milter (direct write)"
    return "re-injected through Postfix's re-injection listener"


def report(
    instances: list[CopyInstance],
    wanted: list[CopySetup],
    load: Load,
    options: argparse.Namespace,
    loads: tuple[float, float],
) -> None:
    print()
    print(
        f"{load.messages} GTUBE messages of {load.size} body bytes x {RECIPIENTS} recipients "
        f"per batch, {load.sessions} smtp-source sessions, median of {options.rounds} "
        f"round(s); {os.cpu_count()} CPUs, load average {loads[0]:.2f} before the start, "
        f"{loads[1]:.2f} at the end"
    )
    print(f"sekisho from {Path(sekisho.__file__).parent}: the tagged copy {way_of_copy()}")
    header = (
        f"{'':<11} {'accepted':>8} {'delivered':>9} {'wall':>6}   {'CPU ms per message':>34}\n"
        f"{'setup':<11} {'msg/s':>8} {'msg/s':>9} {'ms/msg':>6}   {'postfix':>7} {'milter':>6} "
        f"{'rspamd':>6} {'client':>6} {'total':>5}  delivered msg/s by round"
    )
    print(header)
    print("-" * len(header.splitlines()[1]))
    summaries = {i.setup.name: CopySummary.of(i.batches) for i in instances}
    for instance in instances:
        s = summaries[instance.setup.name]
        print(
            f"{instance.setup.name:<11} {s.accepted_rate:>8.0f} {s.delivered_rate:>9.0f} "
            f"{s.ms_per_message:>6.2f}   {s.postfix_ms:>7.2f} {s.milter_ms:>6.2f} "
            f"{s.rspamd_ms:>6.2f} {s.client_ms:>6.2f} {s.total_ms:>5.2f}  "
            + " ".join(f"{b.messages / b.delivered:.0f}" for b in instance.batches)
        )
    print()
    print(f"{'ratio':<37} {'accepted':>8} {'delivered':>9} {'CPU cost':>8}")
    print_ratios(RATIOS, summaries, {setup.name for setup in wanted})
    if "mixed" in summaries and "in-place" in summaries:
        mixed, in_place = summaries["mixed"], summaries["in-place"]
        print(
            f"\nthe tagged copy, mixed - in-place, per message: wall "
            f"{mixed.ms_per_message - in_place.ms_per_message:+.2f} ms, CPU "
            f"{mixed.total_ms - in_place.total_ms:+.2f} ms (Postfix "
            f"{mixed.postfix_ms - in_place.postfix_ms:+.2f}, milter "
            f"{mixed.milter_ms - in_place.milter_ms:+.2f}, rspamd "
            f"{mixed.rspamd_ms - in_place.rspamd_ms:+.2f}, client "
            f"{mixed.client_ms - in_place.client_ms:+.2f})"
        )
    print(
        "\n(ratios above 1: the first setup is faster / cheaper; every copy of every batch "
        "was checked: one per message in each mailbox's folder, tagged, untagged or "
        "quarantined as its setting says, the tagged copies made the way the milter makes "
        "them, Postfix's deliveries counted)"
    )
    warn_if_noisy(instances)


# --- main ----------------------------------------------------------------------------------


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per batch")
    parser.add_argument("--sessions", type=int, default=10, help="parallel SMTP sessions")
    parser.add_argument("--rounds", type=int, default=3, help="batches per setup")
    parser.add_argument("--size", type=int, default=4096, help="body bytes (at most 8000)")
    parser.add_argument(
        "--only", default="", help="comma-separated setup names: " + ",".join(SETUPS_BY_NAME)
    )
    parser.add_argument("--keep", action="store_true", help="keep the run folder")
    options = parser.parse_args()
    if options.size > GTUBE_LIMIT:
        parser.error(
            f"--size: rspamd looks for GTUBE in a text part of {GTUBE_LIMIT} bytes at most"
        )
    return options


def main() -> None:
    options = parse_arguments()
    # A SIGTERM unwinds like Ctrl-C, so that every Postfix, milter and rspamd is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    idle_load = os.getloadavg()[0]
    setups = chosen(options.only, SETUPS_BY_NAME)
    load = Load(options.messages, options.sessions, RECIPIENTS, options.size)
    warm_up = Load(options.sessions * 4, options.sessions, RECIPIENTS, options.size)
    print(f"sekisho from {Path(sekisho.__file__).parent}: the tagged copy {way_of_copy()}")
    with run_directory(options.keep) as root, ExitStack() as stack:
        message = root / "gtube.eml"
        write_message(message, options.size)
        stores: dict[str, tuple[str, Path]] = {}
        for setup in setups:
            folder = root / f"store-{setup.name}"
            folder.mkdir(mode=0o755)
            stores[setup.name] = open_store(folder, load.addresses, stack)
            set_spam_scans(stores[setup.name][0], load.addresses, setup.modes)
        print("starting rspamd ...", flush=True)
        rspamd, rspamd_pid = start_rspamd(root, stack)
        instances: list[CopyInstance] = []
        for setup in setups:
            print(f"starting {setup.name} ...", flush=True)
            try:
                instance = start_instance(setup, root, stores[setup.name], rspamd, stack)
                run_batch(instance, warm_up, message, rspamd_pid)
            except (TimeoutError, RuntimeError, subprocess.CalledProcessError) as error:
                print(f"  {setup.name} left out, it does not work: {last_line(error)}")
                continue
            instances.append(instance)

        def run(instance: CopyInstance) -> CopyBatch:
            return run_batch(instance, load, message, rspamd_pid)

        play_rounds(instances, options.rounds, run)
        report(instances, setups, load, options, (idle_load, os.getloadavg()[0]))
    if len(instances) < len(setups):
        sys.exit("a setup was left out: its figures are missing, see above")


if __name__ == "__main__":
    main()
