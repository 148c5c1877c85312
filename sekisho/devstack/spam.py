"""Private spam engines from Debian's packages on 127.0.0.1: rspamd and SpamAssassin's spamd.

Both run with their shipped rules and no network rule updates. rspamd's modules that ask
DNS (SPF, DKIM, DMARC, RBLs, fuzzy, phishing, ASN) are off: offline they only stall, and
the tests need the same verdict every time. rspamd compiles its rules into ``cache``
on the first start (~8 s here); later starts that reuse the folder take ~0.5 s.

For bench/peers.py an rspamd can also be rspamd's own milter (``proxy_milter``: the proxy
worker in milter mode scanning itself, on a unix socket Postfix may use, adding
X-Spam-Status to every message), and can call clamd itself (``clamd``: the antivirus
module, one INSTREAM per message, symbol CLAM_VIRUS).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from sekisho.devstack.ports import free_port, wait_for_tcp

_RSPAMD_OFFLINE = ("dmarc", "spf", "dkim", "rbl", "fuzzy_check", "phishing", "asn")
# Shared by every run on this machine, so only the first start compiles (see above).
_RSPAMD_CACHE = Path("/var/tmp/sekisho-rspamd-cache")  # noqa: S108 -- a cache, owned by _rspamd


# The proxy worker as Debian's worker-proxy.inc has it (milter = yes), scanning itself
# instead of forwarding to a normal worker: rspamd's own milter in one process type.
_PROXY_MILTER = """milter = yes;
timeout = 120s;
count = {count};
upstream "local" {{
  default = yes;
  self_scan = yes;
}}
"""
# One header on every message, also from 127.0.0.1 (milter_headers skips local mail by
# default): the proof in bench/peers.py that rspamd's milter scanned it.
_MILTER_HEADERS = """use = ["x-spam-status"];
skip_local = false;
skip_authenticated = false;
"""
_ANTIVIRUS = """clamav {{
  type = "clamav";
  servers = "{servers}";
  symbol = "CLAM_VIRUS";
  action = "reject";
  scan_mime_parts = false;
  log_clean = false;
  retransmits = 1;
}}
"""


def _read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def _stop_pid(pidfile: Path) -> None:
    pid = _read_pid(pidfile)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def _wait_closed(port: int, timeout: float = 15.0) -> None:
    """Until nothing accepts connections on ``port`` (a stopped daemon really is gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return
        time.sleep(0.05)
    raise TimeoutError(f"127.0.0.1:{port} still accepts connections")


def _daemonize(command: list[str], log: Path) -> None:
    """Run a command that forks a daemon and returns. Its output goes to ``log``, never to
    a pipe: the daemon would inherit the pipe and we would wait for its end forever."""
    with log.open("ab") as output:
        subprocess.run(command, check=True, stdin=subprocess.DEVNULL, stdout=output, stderr=output)


@dataclass
class RspamdInstance:
    run: Path
    port: int = field(default_factory=free_port)
    cache: Path = _RSPAMD_CACHE
    proxy_milter: bool = False  # the proxy worker is a self-scanning milter on milter_socket
    workers: int = 0  # scanning processes of the normal (and proxy) worker; 0: rspamd's default
    clamd: str = ""  # host:port: the antivirus module asks this clamd

    @property
    def milter_socket(self) -> Path:
        return self.run / "milter.sock"

    @property
    def url(self) -> str:
        return f"rspamd://127.0.0.1:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.run / "rspamd.pid"

    @property
    def log_file(self) -> Path:
        return self.run / "rspamd.log"  # Debian's logging.inc: $LOGDIR/rspamd.log

    def start(self, timeout: float = 60.0) -> None:
        local = self.run / "rspamd-local"
        for folder in (local / "local.d", local / "override.d", self.cache):
            folder.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.cache, "_rspamd", "_rspamd")
        shutil.chown(self.run, "_rspamd", "_rspamd")
        for module in _RSPAMD_OFFLINE:
            (local / "local.d" / f"{module}.conf").write_text("enabled = false;\n")
        # Only the normal worker is used; the others get sockets in the run folder so they
        # take no port another process may have been promised.
        listeners = {
            "worker-normal": f"127.0.0.1:{self.port}",
            "worker-controller": f"{self.run / 'controller.sock'} mode=0600",
            "worker-proxy": f"{self.run / 'proxy.sock'} mode=0600",
        }
        extra = {"worker-normal": "", "worker-controller": "", "worker-proxy": ""}
        if self.workers:
            extra["worker-normal"] = f"count = {self.workers};\n"
        if self.proxy_milter:
            # smtpd (user postfix) connects to it.
            listeners["worker-proxy"] = f"{self.milter_socket} mode=0666"
            extra["worker-proxy"] = _PROXY_MILTER.format(count=self.workers or 1)
            (local / "local.d" / "milter_headers.conf").write_text(_MILTER_HEADERS)
        if self.clamd:
            (local / "local.d" / "antivirus.conf").write_text(_ANTIVIRUS.format(servers=self.clamd))
        for worker, socket_address in listeners.items():
            (local / "override.d" / f"{worker}.inc").write_text(
                f'bind_socket = "{socket_address}";\n' + extra[worker]
            )
        _daemonize(
            [
                "rspamd",
                "-c",
                "/etc/rspamd/rspamd.conf",
                f"--var=LOCAL_CONFDIR={local}",
                f"--var=DBDIR={self.cache}",
                f"--var=RUNDIR={self.run}",
                f"--var=LOGDIR={self.run}",
                "-u",
                "_rspamd",
                "-g",
                "_rspamd",
            ],
            self.run / "rspamd-start.log",
        )
        wait_for_tcp(self.port, timeout=timeout)

    def stop(self) -> None:
        _stop_pid(self.pidfile)

    def wait_stopped(self) -> None:
        _wait_closed(self.port)


@dataclass
class SpamdInstance:
    run: Path
    port: int = field(default_factory=free_port)
    # Preforked and kept: no child is spawned or killed while mail is being scanned.
    children: int = 2

    @property
    def url(self) -> str:
        return f"spamd://127.0.0.1:{self.port}"

    @property
    def pidfile(self) -> Path:
        return self.run / "spamd.pid"

    @property
    def log_file(self) -> Path:
        return self.run / "spamd.log"

    def pid(self) -> int | None:
        return _read_pid(self.pidfile)

    def start(self, timeout: float = 30.0) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        _daemonize(
            [
                "spamd",
                f"--listen=127.0.0.1:{self.port}",
                "--allowed-ips=127.0.0.1",
                "--local",
                "--nouser-config",
                "--username=debian-spamd",
                f"--min-children={self.children}",
                f"--max-children={self.children}",
                f"--max-spare={self.children}",
                f"--pidfile={self.pidfile}",
                f"--syslog={self.log_file}",
                "--daemonize",
            ],
            self.run / "spamd-start.log",
        )
        wait_for_tcp(self.port, timeout=timeout)

    def stop(self) -> None:
        _stop_pid(self.pidfile)

    def wait_stopped(self) -> None:
        _wait_closed(self.port)
