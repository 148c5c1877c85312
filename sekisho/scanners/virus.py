"""ClamAV's clamd (its INSTREAM command), chosen by the ``clamd`` setting.

A scan returns the virus name or None for clean, or raises VirusScanError: a refused
connection, a timeout, clamd's size-limit answer (StreamMaxLength below the message) or
any answer that is neither OK nor FOUND is never taken for "clean".

The message is sent as it is read from the spool, 64 KB a chunk (the ``clamd`` package
this replaced wanted a file object and sent 1 KB a chunk with ``send``, which may send
less than it is given), on a connection each scan thread keeps open (IDSESSION).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sekisho.scanners.clamd_session import ClamdSessions
from sekisho.scanners.message import MessageSource, as_source, without_nagle
from sekisho.sockets import read_until

# What an SMTP reply or a header may carry of a virus name clamd reports.
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:/+")


class VirusScanError(RuntimeError):
    """clamd gave no usable answer; the message must not be treated as clean."""


@dataclass(frozen=True)
class Clamd:
    """``tcp://host:port`` or ``unix:/path``; ``timeout`` bounds each socket operation."""

    url: str
    timeout: float
    # One IDSESSION connection per scan thread (sekisho.scanners.clamd_session).
    _sessions: ClamdSessions = field(default_factory=ClamdSessions, compare=False, repr=False)

    def _connect(self) -> socket.socket:
        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            peer.settimeout(self.timeout)
            try:
                peer.connect(parts.path)
            except OSError:
                peer.close()
                raise
            return peer
        address = (parts.hostname or "", parts.port or 0)
        peer = socket.create_connection(address, timeout=self.timeout)
        without_nagle(peer)
        return peer

    def ping(self) -> None:
        """Raise VirusScanError unless clamd answers PING with PONG."""
        try:
            with self._connect() as peer:
                answer = _ping(peer)
        except OSError as error:
            raise VirusScanError(f"clamd {self.url}: {error}") from error
        if answer != b"PONG":
            raise VirusScanError(f"clamd {self.url} answered {answer[:100]!r}")

    def scan(self, message: bytes | MessageSource) -> str | None:
        """The virus found in ``message`` (a whole message or one of its parts), or None."""
        try:
            answer = self._sessions.instream(self._connect, as_source(message))
        except (BrokenPipeError, ConnectionResetError) as error:
            # clamd answers the size limit and hangs up while the stream is still coming.
            raise VirusScanError(
                f"clamd {self.url} closed the connection during the message ({error}): "
                "is the message larger than clamd's StreamMaxLength?"
            ) from error
        except OSError as error:
            raise VirusScanError(f"clamd {self.url}: {error}") from error
        return self._verdict(answer)

    def _verdict(self, answer: bytes) -> str | None:
        """``stream: OK``, ``stream: NAME FOUND``, or an error such as
        ``INSTREAM size limit exceeded. ERROR``."""
        text = answer.decode("utf-8", "replace")
        if text == "stream: OK":
            return None
        if text.startswith("stream: ") and text.endswith(" FOUND"):
            return safe_virus_name(text.removeprefix("stream: ").removesuffix(" FOUND"))
        if "size limit exceeded" in text:
            raise VirusScanError(
                f"clamd {self.url}: the message is larger than clamd's StreamMaxLength"
            )
        raise VirusScanError(f"clamd {self.url}: answer not understood: {answer[:200]!r}")


def _ping(peer: socket.socket) -> bytes:
    peer.sendall(b"zPING\0")
    return read_until(peer, b"\0").rstrip(b"\0")


def safe_virus_name(name: str) -> str:
    """clamd's name with anything outside letters, digits and ``.-_:/+`` dropped, at most
    100 characters: it goes into an SMTP reply and a header."""
    kept = "".join(character for character in name if character in _NAME_CHARACTERS)
    return kept[:100] or "unknown"


def clamd_scanner(url: str, timeout: float) -> Clamd:
    parts = urlsplit(url)
    network = parts.scheme == "tcp" and parts.hostname and parts.port
    local = parts.scheme == "unix" and parts.path
    if not (network or local):
        raise ValueError(f"clamd: {url!r} is neither tcp://host:port nor unix:/path")
    return Clamd(url, timeout)
