"""What a transaction asks the MTA to do, as small typed values (applied by the adapter)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Continue:
    pass


@dataclass(frozen=True)
class Accept:
    """Accept the message as it is and skip the rest of the callbacks."""


@dataclass(frozen=True)
class Discard:
    """Every recipient was handled (quarantined): Postfix delivers nothing."""


@dataclass(frozen=True)
class TempFail:
    """4xx: the sending MTA keeps the message and retries."""

    code: str
    xcode: str
    text: str
    reason: str  # a short name for metrics (store_down, spam_scan_down …)


@dataclass(frozen=True)
class Reject:
    """5xx: the message is refused for good; the client is told why."""

    code: str
    xcode: str
    text: str
    reason: str


@dataclass(frozen=True)
class DeleteRecipient:
    recipient: str


@dataclass(frozen=True)
class AddRecipient:
    """A forwarding address, added to the envelope (Postfix delivers or relays it)."""

    recipient: str


@dataclass(frozen=True)
class ChangeSender:
    """A new envelope sender for the whole message (SRS for forwarded mail)."""

    sender: str


@dataclass(frozen=True)
class ChangeHeader:
    """Replace the ``index``-th (1-based) field called ``name``; an empty value removes it."""

    name: str
    index: int
    value: str


@dataclass(frozen=True)
class AddHeader:
    name: str
    value: str


Verdict = Continue | Accept | Discard | TempFail | Reject
Edit = DeleteRecipient | AddRecipient | ChangeSender | ChangeHeader | AddHeader


@dataclass(frozen=True)
class EndOfMessage:
    """The edits to apply, then the verdict."""

    edits: tuple[Edit, ...]
    verdict: Verdict
