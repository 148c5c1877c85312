"""Free loopback ports and waiting for a listener."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

_HANDED_OUT: set[int] = set()
# "first-last": processes that start stacks side by side (the test suite's parallel
# workers) each probe their own range, as two probes in two processes can be offered the
# same port by the kernel before either daemon binds it.
PORT_RANGE_VARIABLE = "SEKISHO_PORT_RANGE"


def free_port() -> int:
    """A loopback port nothing listens on, never the same one twice in this process.

    The probe socket is closed before the daemon binds the port, so the kernel may offer
    the same port again to the next probe; a stack asks for a dozen ports before it starts
    anything, and two daemons configured on one port fail to start.
    """
    configured = os.environ.get(PORT_RANGE_VARIABLE)
    if configured:
        return _free_port_in(*_parse_range(configured))
    while True:
        port = _probe(0)
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def _parse_range(configured: str) -> tuple[int, int]:
    first, _, last = configured.partition("-")
    if not (first.isdigit() and last.isdigit() and 1024 <= int(first) <= int(last) <= 65535):
        raise ValueError(
            f"{PORT_RANGE_VARIABLE}={configured!r}: expected first-last, e.g. 20000-21999"
        )
    return int(first), int(last)


def _free_port_in(first: int, last: int) -> int:
    size = last - first + 1
    # A process started by another one in the same range (a demo under test) starts
    # elsewhere in it, so the two rarely probe the same ports.
    start = os.getpid() * 7919 % size
    for step in range(size):
        port = first + (start + step) % size
        if port not in _HANDED_OUT and _probe(port):
            _HANDED_OUT.add(port)
            return port
    raise RuntimeError(f"no free port left in {PORT_RANGE_VARIABLE}={first}-{last}")


def _probe(port: int) -> int:
    """The port bound (the kernel's choice for 0), or 0 when it is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
        return int(probe.getsockname()[1])


def wait_for_tcp(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def wait_for_unix(path: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(str(path))
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {path}") from None
            time.sleep(0.05)


def wait_for_listener(listen: str, timeout: float = 15.0) -> None:
    """Wait for ``unix:/path`` or ``inet:host:port`` (Postfix syntax) to accept connections."""
    kind, _, where = listen.partition(":")
    if kind == "unix":
        wait_for_unix(Path(where), timeout)
    else:
        wait_for_tcp(int(where.rpartition(":")[2]), timeout)
