"""Free loopback ports and waiting for a listener."""

from __future__ import annotations

import socket
import time
from pathlib import Path

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, never the same one twice in this process.

    The probe socket is closed before the daemon binds the port, so the kernel may offer
    the same port again to the next probe; a stack asks for a dozen ports before it starts
    anything, and two daemons configured on one port fail to start.
    """
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


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
