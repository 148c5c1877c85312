"""sekisho's own processes (milter, web UI, worker) started as real subprocesses, stopped by pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from sekisho.devstack.ports import wait_for_listener, wait_for_tcp
from sekisho.worker import WORKER_STARTED

SEKISHO = Path(sys.executable).with_name("sekisho")


@dataclass
class SekishoProcess:
    """``sekisho <command>`` with SEKISHO_* settings in its environment."""

    command: tuple[str, ...]
    environment: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [str(SEKISHO), *self.command],
            env={**os.environ, **self.environment},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, grace: float = 2.0) -> None:
        """SIGTERM, then SIGKILL: libmilter may take ~10 s to exit on its own."""
        if self.process is not None:
            stop_process(self.process, grace)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""


def stop_process(process: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds: libmilter may take ~10 s to exit."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _started(process: SekishoProcess, listen: str, what: str) -> SekishoProcess:
    process.start()
    try:
        wait_for_listener(listen)
    except TimeoutError:
        process.stop()
        raise TimeoutError(f"the {what} did not start:\n" + process.log_text()) from None
    return process


def milter_process(environment: dict[str, str], listen: str, log_file: Path) -> SekishoProcess:
    milter = SekishoProcess(("milter", "--listen", listen), environment, log_file)
    return _started(milter, listen, "milter")


def web_process(environment: dict[str, str], port: int, log_file: Path) -> SekishoProcess:
    listen = f"127.0.0.1:{port}"
    web = SekishoProcess(("web", "--listen", listen), environment, log_file)
    return _started(web, f"inet:{listen}", "web UI")


def worker_process(environment: dict[str, str], log_file: Path) -> SekishoProcess:
    """The worker listens on nothing; it is up once its log says so."""
    worker = SekishoProcess(("worker",), environment, log_file)
    worker.start()
    deadline = time.monotonic() + 20
    while WORKER_STARTED not in worker.log_text():
        if time.monotonic() > deadline or (worker.process and worker.process.poll() is not None):
            worker.stop()
            raise TimeoutError("the worker did not start:\n" + worker.log_text())
        time.sleep(0.05)
    return worker


def start_daemon(
    command: list[str], log_file: Path, ports: list[int], what: str, timeout: float
) -> subprocess.Popen[bytes]:
    """A daemon that stays in the foreground (clamd, Dovecot), up once ``ports`` accept."""
    with log_file.open("ab") as output:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=output)
    try:
        for port in ports:
            wait_for_tcp(port, timeout=timeout)
    except TimeoutError:
        stop_process(process)
        raise TimeoutError(f"{what} did not start:\n" + log_file.read_text()) from None
    return process
