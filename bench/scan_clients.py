"""The scanner clients alone: what one message's scans cost, without Postfix or libmilter.

One invocation starts one clamd and two rspamd (sekisho.devstack): a plain one, as
sekisho uses it, and one whose antivirus module asks the same clamd (over TCP; sekisho's
client uses clamd's unix socket, as in bench/peers.py). --threads threads
then scan --scans copies of one message (smtp-source's shape, --size body bytes) with
sekisho's own clients (sekisho.scanners), in each way:

  clamd         Clamd.scan alone (virus scan only)
  rspamd        Rspamd.scan alone (spam scan only)
  both          what sekisho-all-in does: the virus and the spam scan of a message
                started side by side on a scan thread pool (sekisho.scanners.background,
                as sekisho.milter.server wires it), then both waited for
  rspamd+av     one request to the rspamd whose antivirus module calls clamd (one
                INSTREAM per message): the virus and the spam scan in one round trip

Before timing, each way must find the EICAR test string (clamd: its name; rspamd+av:
rspamd's reject action), so a way that skipped clamd is an error.

Reported per message: wall time at that concurrency, the scanning client's CPU (this
process: sekisho's side of the scans, in the milter), clamd's and rspamd's CPU (from
/proc), and the total. On a machine whose CPUs are saturated, the total predicts what a
way costs the milter host.

    .venv/bin/python bench/scan_clients.py [--scans 1000] [--threads 10] [--size 10240]
        [--rounds 3] [--only clamd,rspamd,both,rspamd+av]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from milter_throughput import chosen
from scan_throughput import tree_cpu_seconds

from sekisho.devstack.clamd import EICAR, ClamdInstance
from sekisho.devstack.spam import RspamdInstance
from sekisho.scanners.background import in_background
from sekisho.scanners.spam import Rspamd, SpamScanError
from sekisho.scanners.virus import Clamd, VirusScanError

TIMEOUT = 30.0
WAYS = ("clamd", "rspamd", "both", "rspamd+av")


def message(size: int) -> bytes:
    """A message like smtp-source's: a few header fields and ``size`` bytes of body."""
    head = (
        b"From: <load@sender.example>\r\nTo: <bench@example.jp>\r\n"
        b"Date: Fri, 4 Dec 2026 17:16:55 +0000\r\nMessage-Id: <1.2.3@vm>\r\n"
        b"Subject: sekisho milter benchmark\r\n\r\n"
    )
    line = b"X" * 78 + b"\r\n"
    return head + line * (size // len(line))


@dataclass(frozen=True)
class Daemons:
    clamd: ClamdInstance
    rspamd: RspamdInstance
    rspamd_av: RspamdInstance

    def cpu(self) -> tuple[float, float]:
        """CPU seconds so far of (clamd, both rspamd)."""
        clamd = tree_cpu_seconds(self.clamd.process.pid if self.clamd.process else None)
        rspamd = sum(tree_cpu_seconds(_pid(r.pidfile)) for r in (self.rspamd, self.rspamd_av))
        return clamd, rspamd


def _pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class Result:
    wall_ms: float  # per message, at the concurrency
    client_ms: float  # CPU per message: this process
    clamd_ms: float
    rspamd_ms: float

    @property
    def total_ms(self) -> float:
        return self.client_ms + self.clamd_ms + self.rspamd_ms


def scan_way(way: str, daemons: Daemons, pool: ThreadPoolExecutor) -> Callable[[bytes], object]:
    """One message's scans in that way; raises when a scanner gives no verdict."""
    clamd = Clamd(daemons.clamd.url, TIMEOUT)
    rspamd = Rspamd("127.0.0.1", daemons.rspamd.port, TIMEOUT)
    rspamd_av = Rspamd("127.0.0.1", daemons.rspamd_av.port, TIMEOUT)
    if way == "clamd":
        return clamd.scan
    if way == "rspamd":
        return rspamd.scan
    if way == "rspamd+av":
        return rspamd_av.scan
    scan_virus = in_background(pool, TIMEOUT, clamd.scan, VirusScanError)
    scan_spam = in_background(pool, TIMEOUT, rspamd.scan, SpamScanError)

    def both(data: bytes) -> object:
        virus, spam = scan_virus(data), scan_spam(data)
        return virus(), spam()

    return both


def check_finds_eicar(way: str, scan: Callable[[bytes], object], clean: bytes) -> None:
    infected = clean + EICAR + b"\r\n"
    found = scan(infected)
    verdicts = found if isinstance(found, tuple) else (found,)
    if way in {"clamd", "both"} and not any(isinstance(v, str) for v in verdicts):
        raise RuntimeError(f"{way}: clamd did not find EICAR: {found!r}")
    if way == "rspamd+av" and not getattr(found, "is_spam", False):
        raise RuntimeError(f"{way}: rspamd's antivirus module did not find EICAR: {found!r}")


def run_way(way: str, daemons: Daemons, data: bytes, scans: int, threads: int) -> Result:
    with ThreadPoolExecutor(threads, "client") as clients, ThreadPoolExecutor(32) as pool:
        scan = scan_way(way, daemons, pool)
        check_finds_eicar(way, scan, data)
        clamd_before, rspamd_before = daemons.cpu()
        cpu_before = time.process_time()
        start = time.monotonic()
        for result in clients.map(lambda _: scan(data), range(scans)):
            if isinstance(result, tuple) and any(v is not None for v in result[:1]):
                raise RuntimeError(f"{way}: a clean message was found infected: {result!r}")
        wall = time.monotonic() - start
        client = time.process_time() - cpu_before
        clamd_after, rspamd_after = daemons.cpu()
    return Result(
        wall_ms=1000 * wall / scans,
        client_ms=1000 * client / scans,
        clamd_ms=1000 * (clamd_after - clamd_before) / scans,
        rspamd_ms=1000 * (rspamd_after - rspamd_before) / scans,
    )


@contextlib.contextmanager
def started_daemons(root: Path) -> Iterator[Daemons]:
    with contextlib.ExitStack() as stack:
        clamd = ClamdInstance(root / "clamd", local_socket=True)  # sekisho: unix socket
        clamd.run.mkdir()
        stack.callback(clamd.stop)
        clamd.start()
        both = []
        for name, av in (("rspamd", ""), ("rspamd-av", f"127.0.0.1:{clamd.port}")):
            folder = root / name
            folder.mkdir()
            rspamd = RspamdInstance(folder, workers=os.cpu_count() or 1, clamd=av)
            stack.callback(rspamd.stop)
            rspamd.start()
            both.append(rspamd)
        yield Daemons(clamd, both[0], both[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=1000, help="messages per way and round")
    parser.add_argument("--threads", type=int, default=10, help="messages scanned at once")
    parser.add_argument("--size", type=int, default=10240, help="body bytes")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (the median is shown)")
    parser.add_argument("--only", default="", help="comma-separated ways: " + ",".join(WAYS))
    options = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ways = chosen(options.only, {way: way for way in WAYS})
    data = message(options.size)
    idle_load = os.getloadavg()[0]
    root = Path(tempfile.mkdtemp(prefix="sekisho-scan-clients-"))
    root.chmod(0o755)
    results: dict[str, list[Result]] = {way: [] for way in ways}
    try:
        with started_daemons(root) as daemons:
            for way in ways:  # warm-up: rspamd's first scans compile and cache
                run_way(way, daemons, data, options.threads * 4, options.threads)
            for round_number in range(options.rounds):
                for way in ways[round_number % len(ways) :] + ways[: round_number % len(ways)]:
                    result = run_way(way, daemons, data, options.scans, options.threads)
                    results[way].append(result)
                    print(f"round {round_number + 1} {way:<10} {result.wall_ms:6.2f} ms/msg")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(
        f"\n{options.scans} messages of {len(data)} bytes per way and round, "
        f"{options.threads} at once, median of {options.rounds}; {os.cpu_count()} CPUs, "
        f"load average {idle_load:.2f} before, {os.getloadavg()[0]:.2f} after"
    )
    print(f"{'way':<10} {'wall ms':>8}   {'CPU ms per message':>34}")
    print(f"{'':<10} {'per msg':>8}   {'client':>7} {'clamd':>7} {'rspamd':>7} {'total':>7}")
    for way, rounds in results.items():
        print(
            f"{way:<10} {median(r.wall_ms for r in rounds):>8.2f}   "
            f"{median(r.client_ms for r in rounds):>7.3f} "
            f"{median(r.clamd_ms for r in rounds):>7.3f} "
            f"{median(r.rspamd_ms for r in rounds):>7.3f} "
            f"{median(r.total_ms for r in rounds):>7.3f}"
        )


if __name__ == "__main__":
    main()
