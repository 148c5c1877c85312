"""One SMTP transaction as the milter sees it, free of pymilter: collect, decide, act.

Round trips are the cost of a milter, so the decision is taken at end-of-headers: when
no recipient is caught the message is accepted there and the body is never sent to us.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from sekisho.milter.actions import (
    Accept,
    Continue,
    DeleteRecipient,
    Discard,
    EndOfMessage,
    TempFail,
)
from sekisho.milter.quarantine import Quarantine
from sekisho.rules.addresses import normalize_address
from sekisho.rules.decide import decide
from sekisho.rules.encoded_words import readable
from sekisho.rules.model import Decision, Message, Policy, RuleHit
from sekisho.store.policies import PolicyUnavailableError

log = logging.getLogger("sekisho.milter")

PolicyLookup = Callable[[str], Policy | None]
HitRecorder = Callable[[int, RuleHit], None]
STORE_DOWN = TempFail("451", "4.3.0", "Mail filter settings are unavailable, try again later")
# Header fields that change between two attempts of the same message.
_NOT_IN_KEY = frozenset({"received", "return-path"})
_COPY_CHUNK = 64 * 1024


@dataclass
class Recipient:
    given: str  # as the client wrote it, which is what delrcpt must name
    policy: Policy | None
    decision: Decision | None = None


@dataclass
class MailTransaction:
    policies: PolicyLookup
    quarantine: Quarantine
    spool_memory_bytes: int
    record_hit: HitRecorder
    sender: str = ""
    recipients: list[Recipient] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    queue_id: str = "NOQUEUE"
    _body: IO[bytes] | None = None
    _digest: hashlib._Hash | None = None

    def add_recipient(self, given: str) -> Continue | TempFail:
        address = normalize_address(given)
        try:
            policy = self.policies(address)
        except PolicyUnavailableError as error:
            log.warning(
                "policy_unavailable queue_id=%s rcpt=%s error=%s", self.queue_id, address, error
            )
            return STORE_DOWN
        self.recipients.append(Recipient(given, policy))
        return Continue()

    def add_header(self, name: str, value: str) -> None:
        self.headers.append((name, value.replace("\r\n", "\n")))

    def end_of_headers(self) -> Accept | Continue:
        message = Message(normalize_address(self.sender), tuple(self.headers))
        for recipient in self.recipients:
            if recipient.policy is not None:
                recipient.decision = decide(recipient.policy, message)
        self._log_decisions()
        if not any(r.decision and r.decision.quarantined for r in self.recipients):
            self.record_hits()  # accepted here: the verdict is final
            return Accept()
        # Closed by close(), which the adapter calls at end of message, abort and close.
        self._body = tempfile.SpooledTemporaryFile(max_size=self.spool_memory_bytes)  # noqa: SIM115
        self._digest = hashlib.sha256()
        for name, value in self.headers:
            if name.lower() not in _NOT_IN_KEY:
                self._digest.update(_header_line(name, value))
        return Continue()

    def add_body(self, chunk: bytes) -> None:
        assert self._body is not None
        assert self._digest is not None
        self._body.write(chunk)
        self._digest.update(chunk)

    def end_of_message(self) -> EndOfMessage:
        assert self._body is not None
        assert self._digest is not None
        message_key = self._digest.hexdigest()
        subject = Message(self.sender, tuple(self.headers)).subject
        edits = []
        for recipient in self.recipients:
            decision = recipient.decision
            if decision is None or not decision.quarantined or recipient.policy is None:
                continue
            assert decision.hit is not None  # a quarantine always names its rule
            self.quarantine.put(
                recipient.policy,
                decision.hit,
                normalize_address(self.sender),
                subject,
                self.queue_id,
                message_key,
                self._message_bytes(),
            )
            edits.append(DeleteRecipient(recipient.given))
        verdict = Discard() if len(edits) == len(self.recipients) else Accept()
        log.info(
            "end queue_id=%s quarantined=%d delivered=%d verdict=%s",
            self.queue_id,
            len(edits),
            len(self.recipients) - len(edits),
            type(verdict).__name__.lower(),
        )
        return EndOfMessage(tuple(edits), verdict)

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def _message_bytes(self) -> Iterator[bytes]:
        """The message as a Maildir file wants it: header lines, blank line, LF endings."""
        assert self._body is not None
        yield b"".join(_header_line(name, value) for name, value in self.headers) + b"\n"
        self._body.seek(0)
        carry = b""
        while chunk := self._body.read(_COPY_CHUNK):
            data = carry + chunk
            carry = b"\r" if data.endswith(b"\r") else b""
            yield data[: len(data) - len(carry)].replace(b"\r\n", b"\n")
        if carry:
            yield carry

    def record_hits(self) -> None:
        """Count the rules that decided, once the verdict is final: at an accept at end of
        headers, or after the adapter applied the end-of-message edits (a temp-fail, which
        the sender retries, counts nothing)."""
        for recipient in self.recipients:
            hit = recipient.decision.hit if recipient.decision is not None else None
            if recipient.policy is not None and hit is not None:
                self.record_hit(recipient.policy.account_id, hit)

    def _log_decisions(self) -> None:
        """One line per message: each filtered recipient, its action and the rule that hit.

        ``decisions queue_id=Q taro@example.jp=quarantine:reject_from:"bad.example"
        hanako@example.jp=deliver`` (one line, not one per recipient: the log lock is
        the milter's largest Python cost).
        """
        parts = []
        for recipient in self.recipients:
            decision = recipient.decision
            if decision is None:
                continue
            part = f"{normalize_address(recipient.given)}={decision.action.value}"
            if decision.hit is not None:
                part += f":{decision.hit.rule}:{_quoted(decision.hit.entry)}"
            parts.append(part)
        if parts:
            log.info("decisions queue_id=%s %s", self.queue_id, " ".join(parts))


def _quoted(text: str) -> str:
    return '"' + readable(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _header_line(name: str, value: str) -> bytes:
    return f"{name}: {value}\n".encode("utf-8", "surrogateescape")
