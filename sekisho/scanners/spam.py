"""Spam engines behind one small interface: rspamd (HTTP ``/checkv2``) and SpamAssassin's
spamd (the SPAMC protocol), chosen by the ``spam_engine`` setting.

A scan either returns a verdict or raises SpamScanError: a refused connection, a timeout,
a protocol error or an answer that cannot be read is never taken for "clean". The caller
turns the error into a temporary failure, so the sending MTA keeps the mail and retries.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from typing import Protocol
from urllib.parse import urlsplit

from sekisho.envelope import CONTROL, Envelope, postfix_received_field
from sekisho.rules.model import SpamVerdict
from sekisho.rules.sender_auth import from_rspamd, from_spamd
from sekisho.scanners.http_post import HttpAnswerError, post
from sekisho.scanners.message import MessageSource, as_source, without_nagle

# rspamd's actions that mean "this is spam" for a mailbox owner. "greylist" is a delivery
# tactic, not a verdict; "soft reject" (rate limits, greylisting) says nothing of the
# content, so then the score against the reject threshold decides.
_RSPAMD_SPAM_ACTIONS = frozenset(
    {"reject", "add header", "rewrite subject", "quarantine", "discard"}
)
_SPAMD_STATUS = re.compile(rb"^SPAMD/\d+\.\d+ (\d+) (.*)$")
_SPAMD_SPAM = re.compile(rb"^Spam: (True|False|Yes|No) ; (-?[\d.]+) / (-?[\d.]+)", re.I | re.M)


class SpamScanError(RuntimeError):
    """The engine gave no usable verdict; the message must not be treated as clean."""


UNKNOWN_ENVELOPE = Envelope()


class SpamEngine(Protocol):
    @property
    def name(self) -> str: ...

    def scan(
        self, message: bytes | MessageSource, envelope: Envelope = UNKNOWN_ENVELOPE
    ) -> SpamVerdict: ...

    def ping(self) -> None:
        """Raise SpamScanError unless the engine answers its health check."""


@dataclass(frozen=True)
class Rspamd:
    host: str
    port: int
    timeout: float
    name: str = "rspamd"

    def scan(
        self, message: bytes | MessageSource, envelope: Envelope = UNKNOWN_ENVELOPE
    ) -> SpamVerdict:
        fields = [("Content-Type", b"message/rfc822"), *_rspamd_envelope_fields(envelope)]
        try:
            status, body = post(
                self.host, self.port, self.timeout, "/checkv2", fields, as_source(message)
            )
        except (OSError, HttpAnswerError) as error:
            raise SpamScanError(f"rspamd {self.host}:{self.port}: {error}") from error
        if status != 200:
            raise SpamScanError(f"rspamd answered HTTP {status}")
        try:
            answer = json.loads(body)
            score, threshold = float(answer["score"]), float(answer["required_score"])
            action = answer["action"]
            return SpamVerdict(
                is_spam=action in _RSPAMD_SPAM_ACTIONS
                or (action == "soft reject" and score >= threshold),
                score=score,
                threshold=threshold,
                engine=self.name,
                auth=from_rspamd(
                    {
                        name: tuple(symbol.get("options", ()))
                        for name, symbol in answer.get("symbols", {}).items()
                    }
                ),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise SpamScanError(f"rspamd answer not understood: {body[:200]!r}") from error

    def ping(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("GET", "/ping")
            answer = connection.getresponse().read()
        except (OSError, http.client.HTTPException) as error:
            raise SpamScanError(f"rspamd {self.host}:{self.port}: {error}") from error
        finally:
            connection.close()
        if answer.strip() != b"pong":
            raise SpamScanError(f"rspamd {self.host}:{self.port} answered {answer[:100]!r}")


@dataclass(frozen=True)
class Spamd:
    host: str
    port: int
    timeout: float
    name: str = "spamd"

    def scan(
        self, message: bytes | MessageSource, envelope: Envelope = UNKNOWN_ENVELOPE
    ) -> SpamVerdict:
        source = as_source(message)
        received = postfix_received_field(envelope, formatdate(localtime=True))
        length = len(received) + source.size
        # SYMBOLS: the verdict of CHECK plus the rules that hit (SPF_PASS, DKIM_VALID_AU …).
        request = b"SYMBOLS SPAMC/1.5\r\n" + f"Content-length: {length}\r\n".encode() + b"\r\n"
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as peer:
                without_nagle(peer)
                peer.sendall(request + received)
                for chunk in source.chunks():
                    peer.sendall(chunk)
                peer.shutdown(socket.SHUT_WR)
                answer = b"".join(iter(lambda: peer.recv(65536), b""))
        except OSError as error:
            raise SpamScanError(f"spamd {self.host}:{self.port}: {error}") from error
        status_line, _, rest = answer.partition(b"\r\n")
        status = _SPAMD_STATUS.match(status_line)
        if status is None or status.group(1) != b"0":
            raise SpamScanError(f"spamd answered {status_line[:200]!r}")
        verdict = _SPAMD_SPAM.search(rest)
        not_understood = SpamScanError(f"spamd answer not understood: {answer[:200]!r}")
        if verdict is None:
            raise not_understood
        try:
            score, threshold = float(verdict.group(2)), float(verdict.group(3))
        except ValueError as error:  # "1.2.3" matches the pattern, not float()
            raise not_understood from error
        symbols = rest.partition(b"\r\n\r\n")[2].decode("ascii", "replace").split(",")
        return SpamVerdict(
            is_spam=verdict.group(1).lower() in {b"true", b"yes"},
            score=score,
            threshold=threshold,
            engine=self.name,
            auth=from_spamd(name.strip() for name in symbols),
        )

    def ping(self) -> None:
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as peer:
                peer.sendall(b"PING SPAMC/1.5\r\n\r\n")
                peer.shutdown(socket.SHUT_WR)
                answer = b"".join(iter(lambda: peer.recv(4096), b""))
        except OSError as error:
            raise SpamScanError(f"spamd {self.host}:{self.port}: {error}") from error
        if not answer.rstrip().endswith(b"PONG"):
            raise SpamScanError(f"spamd {self.host}:{self.port} answered {answer[:100]!r}")


def _rspamd_envelope_fields(envelope: Envelope) -> Iterator[tuple[str, bytes]]:
    """rspamd's request fields for the envelope (its protocol: Rcpt once per recipient).

    Addresses may be UTF-8 (SMTPUTF8), so the values go out as UTF-8 bytes; raw 8-bit
    that is not UTF-8 goes out as it came. Postfix never passes a line break, but a value
    that holds one is left out rather than sent: it would end the request's header.
    """
    fields = [
        ("Queue-Id", envelope.queue_id),
        ("Ip", envelope.client_address),
        ("Hostname", envelope.client_name),
        ("Helo", envelope.helo),
        ("From", envelope.sender),
        *(("Rcpt", recipient) for recipient in envelope.recipients),
        ("User", envelope.login),
    ]
    for name, value in fields:
        if value and not CONTROL.search(value):
            yield name, value.encode("utf-8", "surrogateescape")


def spam_engine(url: str, timeout: float) -> SpamEngine:
    """``rspamd://127.0.0.1:11333`` or ``spamd://127.0.0.1:783`` → its client."""
    parts = urlsplit(url)
    if parts.scheme not in {"rspamd", "spamd"} or not parts.hostname or not parts.port:
        raise ValueError(
            f"spam_engine: {url!r} is neither rspamd://host:port nor spamd://host:port"
        )
    if parts.scheme == "rspamd":
        return Rspamd(parts.hostname, parts.port, timeout)
    return Spamd(parts.hostname, parts.port, timeout)
