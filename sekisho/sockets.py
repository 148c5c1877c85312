"""Reading a short line-like answer from a daemon's socket (postsrsd, clamd's PING)."""

from __future__ import annotations

import socket


def read_until(peer: socket.socket, end: bytes) -> bytes:
    """What ``peer`` sends up to and including ``end``, or until it closes."""
    received = b""
    while not received.endswith(end):
        chunk = peer.recv(4096)
        if not chunk:
            break
        received += chunk
    return received
