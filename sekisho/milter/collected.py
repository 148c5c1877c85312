"""Step 1 of a message, collect: what the client sent, as the milter callbacks saw it.

The body waits in a spool file; the forms the later steps need (the Maildir copy, the
chunks a scanner reads) are made from it when asked, streamed where they can be. The
scanners read it side by side, each from its own offset (a lock around seek and read).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Generic, TypeVar

from sekisho.config import Settings
from sekisho.envelope import Envelope
from sekisho.rules.forwarding import FORWARD_TRACE
from sekisho.rules.model import Message, Policy
from sekisho.scanners.mime_shape import MimeCaps, MimeShape, mime_shape

# The milter's own header fields (X-Sekisho-Spam-Score, -Quarantine-Reason, -Virus …).
# Arriving mail that already carries one was forged or relayed: a reader's mail filter
# must be able to trust them, so they are removed before any of ours are added.
OWN_HEADER_PREFIX = "x-sekisho-"
_COPY_CHUNK = 64 * 1024


T = TypeVar("T")


class computed_once(Generic[T]):  # noqa: N801 -- used as a decorator, like cached_property
    """functools.cached_property without Python 3.11's lock, which is one per class: it
    made every message's computation wait for any other message's (a 25 MB join)."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self._compute = compute
        self._name = compute.__name__

    def __get__(self, instance: object, owner: type | None = None) -> T:
        # The first result lands in the instance's __dict__, which then answers alone
        # (a non-data descriptor); a frozen dataclass's __setattr__ is not involved.
        found: T = self._compute(instance)
        instance.__dict__[self._name] = found
        return found


@dataclass(frozen=True)
class Recipient:
    given: str  # as the client wrote it, which is what delrcpt must name
    policy: Policy | None  # None: not one of sekisho's mailboxes
    # The mailbox whose 転送設定 made this one a recipient (not in the client's envelope:
    # added with addrcpt when it keeps the mail); "" for the client's recipients.
    forwarded_by: str = ""


@dataclass(frozen=True)
class ContentLimits:
    """How much of one message the milter reads (the settings of the same names)."""

    message_bytes: int  # message_size_limit: larger is refused, 552 5.3.4
    mime: MimeCaps  # mime_max_depth, mime_max_parts: past them clamd's "clean" is not believed
    disinfect_parts: int  # disinfect_max_parts, disinfect_max_bytes: past them an
    disinfect_bytes: int  # infected message is reported with its header fields only


def content_limits(settings: Settings) -> ContentLimits:
    return ContentLimits(
        settings.message_size_limit,
        MimeCaps(settings.mime_max_depth, settings.mime_max_parts),
        settings.disinfect_max_parts,
        settings.disinfect_max_bytes,
    )


@dataclass(frozen=True)
class Collected:
    envelope: Envelope  # MAIL FROM as the client wrote it, the client, the queue id
    message: Message  # the normalised sender and the header fields, in order
    recipients: tuple[Recipient, ...]  # the client's, then forward targets of our own
    key: str  # what the client sent, digested: the same for every attempt of the message
    body: IO[bytes]
    limits: ContentLimits
    _reading: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def queue_id(self) -> str:
        return self.envelope.queue_id

    def kept_headers(self) -> Iterator[tuple[str, str]]:
        """The header fields delivered copies keep: not arriving X-Sekisho-* fields."""
        for name, value in self.message.headers:
            if not is_own_header(name) or name.lower() == FORWARD_TRACE.lower():
                yield name, value

    def header_block(self) -> bytes:
        return b"".join(header_line(name, value) for name, value in self.kept_headers()) + b"\n"

    def maildir_form(self) -> Iterator[bytes]:
        """The message as a Maildir file wants it: header lines, blank line, LF endings;
        without arriving X-Sekisho-* fields, as the delivered copies are."""
        yield self.header_block()
        carry = b""
        for chunk in self._body_chunks():
            data = carry + chunk
            carry = b"\r" if data.endswith(b"\r") else b""
            yield data[: len(data) - len(carry)].replace(b"\r\n", b"\n")
        if carry:
            yield carry

    def chunks(self) -> Iterator[bytes]:
        """What the scanners read (sekisho.scanners.message): the Maildir form."""
        return self.maildir_form()

    @computed_once
    def size(self) -> int:
        """The length of the Maildir form: one pass over the spool, a chunk at a time."""
        return sum(len(chunk) for chunk in self.maildir_form())

    @computed_once
    def shape(self) -> MimeShape:
        """How deep its parts nest and how many there are, read up to the first cap passed."""
        return mime_shape(self.message.headers, self._body_chunks(), self.limits.mime)

    @computed_once
    def content(self) -> bytes:
        """The whole message in memory: only for disinfection (within its caps) and the
        tagged copy; the scanners and the quarantine copy stream."""
        return b"".join(self.maildir_form())

    def _body_chunks(self) -> Iterator[bytes]:
        offset = 0
        while True:
            with self._reading:
                self.body.seek(offset)
                chunk = self.body.read(_COPY_CHUNK)
            if not chunk:
                return
            offset += len(chunk)
            yield chunk


def is_own_header(name: str) -> bool:
    return name.lower().startswith(OWN_HEADER_PREFIX)


def header_line(name: str, value: str) -> bytes:
    return f"{name}: {value}\n".encode("utf-8", "surrogateescape")
