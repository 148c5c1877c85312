"""The scanner clients' connections: clamd sessions kept per thread, rspamd's one POST.

A fake clamd that ends each session after one answer (as clamd does at its IdleTimeout)
must cost no scan; a fake HTTP peer whose answer cannot be read is an error, not clean.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sekisho.scanners.spam import Rspamd, SpamScanError
from sekisho.scanners.virus import Clamd, VirusScanError


def _read_stream(peer: socket.socket) -> None:
    """One zINSTREAM request: the command, then length-prefixed chunks up to length 0."""
    command = b""
    while not command.endswith(b"\0"):
        command += peer.recv(1)
    assert command == b"zINSTREAM\0"
    while True:
        (length,) = struct.unpack("!L", peer.recv(4, socket.MSG_WAITALL))
        if length == 0:
            return
        peer.recv(length, socket.MSG_WAITALL)


@dataclass
class ForgetfulClamd:
    """A clamd that answers one INSTREAM per session, then closes it (as clamd does at
    its IdleTimeout); counts the sessions it was asked to open."""

    listener: socket.socket
    sessions: int = 0

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"

    def serve(self) -> None:
        while True:
            try:
                peer, _ = self.listener.accept()
            except OSError:
                return
            with peer:
                assert peer.recv(11, socket.MSG_WAITALL) == b"zIDSESSION\0"
                self.sessions += 1
                _read_stream(peer)
                peer.sendall(b"1: stream: OK\0")

    def stop(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self.listener.close()


@pytest.fixture
def forgetful_clamd() -> Iterator[ForgetfulClamd]:
    clamd = ForgetfulClamd(socket.create_server(("127.0.0.1", 0)))
    server = threading.Thread(target=clamd.serve, daemon=True)
    server.start()
    yield clamd
    if clamd.listener.fileno() >= 0:
        clamd.stop()
    server.join(5)


def test_a_session_clamd_ended_is_replaced_without_failing_the_scan(
    forgetful_clamd: ForgetfulClamd,
) -> None:
    clamd = Clamd(forgetful_clamd.url, timeout=5)
    assert clamd.scan(b"Subject: one\r\n\r\nbody\r\n") is None
    assert clamd.scan(b"Subject: two\r\n\r\nbody\r\n") is None
    assert forgetful_clamd.sessions == 2


def test_a_clamd_gone_after_a_session_is_an_error_not_clean(
    forgetful_clamd: ForgetfulClamd,
) -> None:
    clamd = Clamd(forgetful_clamd.url, timeout=5)
    assert clamd.scan(b"Subject: one\r\n\r\nbody\r\n") is None
    forgetful_clamd.stop()
    with pytest.raises(VirusScanError, match=r"clamd tcp://127\.0\.0\.1"):
        clamd.scan(b"Subject: two\r\n\r\nbody\r\n")


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}",
        b"SPAMD/1.1 0 EX_OK\r\n\r\n",
        b"",
    ],
)
def test_an_answer_rspamd_would_not_give_is_an_error_not_clean(answer: bytes) -> None:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        peer, _ = listener.accept()
        with peer:
            peer.recv(65536)
            peer.sendall(answer)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        with pytest.raises(SpamScanError):
            Rspamd("127.0.0.1", listener.getsockname()[1], timeout=5).scan(
                b"Subject: x\r\n\r\nbody\r\n"
            )
    finally:
        server.join(5)
        listener.close()
