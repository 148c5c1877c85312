"""The ``[spam]``-tagged copy for the recipients who want the tag, when others of the same
message must get it untagged.

A milter gives one content to every recipient of a message. Splitting at RCPT (452 4.5.3,
"send the rest separately") makes the sending MTA defer those recipients to its next
queue run — five minutes and more with Postfix, for every such message, spam or not. So
the tagged copy is handed to Postfix's re-injection listener (no milter: the copy is not
filtered twice) before the milter removes those recipients from the original. Postfix's
250 means the copy is queued; any failure defers the whole message, and the sender's
retry finds nothing changed: no recipient was removed.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from dataclasses import dataclass


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
            with smtplib.SMTP(host, int(port), timeout=self.timeout) as connection:
                refused = connection.sendmail(
                    sender, list(recipients), message, mail_options=options
                )
        except (OSError, ValueError, smtplib.SMTPException) as error:
            raise TaggedCopyError(f"re-injection at {self.address}: {error}") from error
        if refused:  # queued for the others: the deferred message's retry sends them again
            raise TaggedCopyError(f"re-injection at {self.address} refused {refused}")
