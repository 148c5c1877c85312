"""What a scanner reads: a message streamed in chunks, with its length known up front.

A 25 MB message is read from the milter's spool file a chunk at a time by each scanner
(clamd's INSTREAM, rspamd's and spamd's Content-Length bodies), not joined into one
bytes object per scan. ``chunks()`` starts from the beginning at every call, so the
virus and the spam scan of one message can read it side by side.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


class MessageSource(Protocol):
    @property
    def size(self) -> int:
        """How many bytes ``chunks()`` yields in all."""

    def chunks(self) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class InMemory:
    """A message or a part already in memory (a disinfected part, a test's message)."""

    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def chunks(self) -> Iterator[bytes]:
        yield self.data


def as_source(message: bytes | MessageSource) -> MessageSource:
    return InMemory(message) if isinstance(message, bytes) else message


def without_nagle(peer: socket.socket) -> None:
    """Send each write at once: a request goes out in several writes (its head, then the
    message's chunks), and with Nagle's algorithm on loopback the second waits for the
    peer's delayed ACK of the first (~40 ms a scan)."""
    if peer.family in {socket.AF_INET, socket.AF_INET6}:
        peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
