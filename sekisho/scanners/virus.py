"""ClamAV's clamd through the ``clamd`` package (INSTREAM), chosen by the ``clamd`` setting.

A scan returns the virus name or None for clean, or raises VirusScanError: a refused
connection, a timeout, clamd's size-limit answer (StreamMaxLength below the message) or
any answer that is neither OK nor FOUND is never taken for "clean".
"""

from __future__ import annotations

import io
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import clamd

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

    def _socket(self) -> clamd.ClamdNetworkSocket:
        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            return clamd.ClamdUnixSocket(parts.path, timeout=self.timeout)
        return clamd.ClamdNetworkSocket(parts.hostname, parts.port, timeout=self.timeout)

    def ping(self) -> None:
        """Raise VirusScanError unless clamd answers PING with PONG.

        On its own socket: the clamd package leaves a socket open when connecting fails.
        """
        parts = urlsplit(self.url)
        try:
            if parts.scheme == "unix":
                peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                peer.settimeout(self.timeout)
                with peer:
                    peer.connect(parts.path)
                    answer = _ping(peer)
            else:
                address = (parts.hostname or "", parts.port or 0)
                with socket.create_connection(address, timeout=self.timeout) as peer:
                    answer = _ping(peer)
        except OSError as error:
            raise VirusScanError(f"clamd {self.url}: {error}") from error
        if answer != b"PONG":
            raise VirusScanError(f"clamd {self.url} answered {answer[:100]!r}")

    def scan(self, data: bytes) -> str | None:
        """The virus found in ``data`` (a message or one of its parts), or None."""
        try:
            answer = self._socket().instream(io.BytesIO(data))
        except clamd.BufferTooLongError as error:
            raise VirusScanError(
                f"clamd {self.url}: the message is larger than clamd's StreamMaxLength"
            ) from error
        except (BrokenPipeError, ConnectionResetError) as error:
            # clamd answers the size limit and hangs up while the stream is still coming.
            raise VirusScanError(
                f"clamd {self.url} closed the connection during the message ({error}): "
                "is the message larger than clamd's StreamMaxLength?"
            ) from error
        except (clamd.ClamdError, OSError) as error:
            raise VirusScanError(f"clamd {self.url}: {error}") from error
        status, name = (answer or {}).get("stream", (None, None))
        if status == "OK":
            return None
        if status == "FOUND" and name:
            return safe_virus_name(name)
        raise VirusScanError(f"clamd {self.url}: answer not understood: {answer!r}")


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
