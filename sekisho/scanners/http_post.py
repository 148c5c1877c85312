"""One HTTP POST on a plain socket: what a spam scan sends to rspamd's /checkv2.

http.client parses a response's header with the email package and sends the head and
each chunk of a streamed body in writes of their own: 0.33-0.38 ms of the milter's CPU
per 10 KB scan against 0.23-0.27 ms here (bench/README.md). rspamd 3.4 answers every
request with ``Connection: close``, even one asking to keep it alive, so there is no
connection to keep: the request says ``Connection: close`` and the answer is read to its
Content-Length or to the close.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable

from sekisho.scanners.message import MessageSource, without_nagle

MAX_ANSWER = 4 * 1024 * 1024  # a verdict is a few KB; more is not an answer to read


class HttpAnswerError(ValueError):
    """The peer's answer is not an HTTP response this client reads."""


def post(
    host: str,
    port: int,
    timeout: float,
    path: str,
    fields: Iterable[tuple[str, bytes]],
    body: MessageSource,
) -> tuple[int, bytes]:
    """(status, body) of the answer; OSError when the connection fails or times out."""
    head = [
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n"
        f"Content-Length: {body.size}\r\n".encode()
    ]
    head += [name.encode() + b": " + value + b"\r\n" for name, value in fields]
    head.append(b"\r\n")
    with socket.create_connection((host, port), timeout=timeout) as peer:
        without_nagle(peer)
        pending = b"".join(head)
        for chunk in body.chunks():
            peer.sendall(pending + chunk)  # the head goes with the first chunk
            pending = b""
        if pending:
            peer.sendall(pending)
        return _answer(peer)


def _answer(peer: socket.socket) -> tuple[int, bytes]:
    received = bytearray()
    length: int | None = None
    header_end = -1
    while True:
        chunk = peer.recv(65536)
        if not chunk:
            break
        received += chunk
        if len(received) > MAX_ANSWER:
            raise HttpAnswerError(f"an answer of over {MAX_ANSWER} bytes")
        if header_end < 0:
            header_end = received.find(b"\r\n\r\n")
            if header_end >= 0:
                length = _content_length(bytes(received[:header_end]))
        if length is not None and len(received) >= header_end + 4 + length:
            break
    if header_end < 0:
        raise HttpAnswerError(f"no HTTP answer: {bytes(received[:100])!r}")
    status_line = bytes(received[: received.find(b"\r\n")])
    version, _, rest = status_line.partition(b" ")
    status = rest[:3]
    if not version.startswith(b"HTTP/") or not status.isdigit():
        raise HttpAnswerError(f"no HTTP status line: {status_line[:100]!r}")
    answer = bytes(received[header_end + 4 :])
    if length is not None and len(answer) < length:
        raise HttpAnswerError(f"the answer ended after {len(answer)} of {length} bytes")
    return int(status), answer[:length] if length is not None else answer


def _content_length(head: bytes) -> int | None:
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding":
            raise HttpAnswerError(f"Transfer-Encoding {value.strip()[:50]!r} is not read here")
        if name == b"content-length":
            if not value.strip().isdigit():
                raise HttpAnswerError(f"Content-Length {value.strip()[:50]!r}")
            length = int(value)
    return length
