"""The ``[spam]``-tagged copy for the recipients who want the tag, when others of the same
message must get it untagged.

A milter gives one content to every recipient of a message. Splitting at RCPT (452 4.5.3,
"send the rest separately") makes the sending MTA defer those recipients to its next
queue run — five minutes and more with Postfix, for every such message, spam or not. So
the tagged copy is handed to Postfix's re-injection listener (no milter: the copy is not
filtered twice) before the milter removes those recipients from the original. Postfix's
250 to DATA means the copy is queued; any failure before it defers the whole message,
and the sender's retry finds nothing changed: no recipient was removed, no copy queued.

A copy queued is recorded (TaggedCopyLedger), keyed by the message's digest and its
recipients: when the client retries a message whose final 250 it never saw, the copy is
not sent again. Only a milter dying between the copy's 250 and that record still sends
it twice — doubled, never lost.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sekisho.store.db import IoRunner, Store, run_here
from sekisho.store.models import utcnow
from sekisho.store.outbox import TAGGED_COPY, already_queued, enqueue

_LINE_END = re.compile(rb"\r?\n")


class TaggedCopyError(RuntimeError):
    """The tagged copy was not queued: its recipients must not be removed."""


@dataclass(frozen=True)
class Reinjection:
    """Postfix's re-injection listener at ``host:port`` (the worker's ``reinject_smtp``)."""

    address: str
    timeout: float = 30.0

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        host, _, port = self.address.rpartition(":")
        addresses = [sender, *recipients]
        options = [] if all(address.isascii() for address in addresses) else ["SMTPUTF8"]
        try:
            # local_hostname: no DNS lookup of our own name for every copy.
            connection = smtplib.SMTP(host, int(port), "localhost", self.timeout)
        except (OSError, ValueError, smtplib.SMTPException) as error:
            raise TaggedCopyError(f"re-injection at {self.address}: {error}") from error
        try:
            self._transaction(connection, sender, recipients, options, message)
        except (OSError, ValueError, smtplib.SMTPException) as error:
            raise TaggedCopyError(f"re-injection at {self.address}: {error}") from error
        finally:
            connection.close()  # after DATA's 250 the copy is queued, whatever QUIT says

    @staticmethod
    def _transaction(
        connection: smtplib.SMTP,
        sender: str,
        recipients: Sequence[str],
        options: list[str],
        message: bytes,
    ) -> None:
        """Every recipient accepted, or no DATA at all: a copy queued for some of them
        would come again with the deferred message's retry."""
        connection.ehlo()
        code, reply = connection.mail(sender, options)
        if code != 250:
            raise TaggedCopyError(f"MAIL FROM answered {code} {reply!r}")
        for recipient in recipients:
            code, reply = connection.rcpt(recipient)
            if code not in (250, 251):
                connection.rset()
                raise TaggedCopyError(f"RCPT TO:<{recipient}> answered {code} {reply!r}")
        # smtplib sends bytes as they are: SMTP wants CRLF line ends (bare LF is refused
        # by Postfix outside $mynetworks), and data() adds the final one itself.
        connection.data(_LINE_END.sub(b"\r\n", message))


class TaggedCopyLedger:
    """Which tagged copies were queued: an outbox row born sent (the worker never sends
    it; the purge removes it with the other finished rows)."""

    def __init__(self, store: Store, io: IoRunner[Any] = run_here) -> None:
        self._store = store
        self._io = io

    @staticmethod
    def key(message_key: str, recipients: Sequence[str]) -> str:
        digest = hashlib.sha256("\n".join(sorted(recipients)).encode("utf-8", "surrogateescape"))
        return f"{TAGGED_COPY}:{message_key[:64]}:{digest.hexdigest()[:16]}"

    def queued(self, key: str) -> bool:
        def work() -> bool:
            with self._store.read() as session:
                return bool(already_queued(session, [key]))

        return bool(self._io(work))

    def record(self, key: str, recipients: Sequence[str]) -> None:
        def work() -> None:
            with self._store.transaction() as session:
                enqueue(session, TAGGED_COPY, key, ",".join(recipients)[:320], sent_at=utcnow())

        self._io(work)
