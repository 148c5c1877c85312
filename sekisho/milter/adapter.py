"""pymilter callbacks, kept thin: each one hands its data to a MailTransaction.

Negotiation keeps round trips to the minimum sekisho needs: no DATA or unknown-command
callbacks, and no replies awaited for HELO, headers and body chunks. Any unexpected
error becomes a temporary failure, never an accept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import Milter

from sekisho import metrics
from sekisho.milter.actions import (
    Accept,
    AddRecipient,
    ChangeHeader,
    ChangeSender,
    Continue,
    DeleteRecipient,
    Discard,
    EndOfMessage,
    Reject,
    TempFail,
    Verdict,
)
from sekisho.milter.transaction import MailTransaction

log = logging.getLogger("sekisho.milter")

TransactionFactory = Callable[[], MailTransaction]
CONTINUE: int = Milter.CONTINUE
ACCEPT: int = Milter.ACCEPT
DISCARD: int = Milter.DISCARD
TEMPFAIL: int = Milter.TEMPFAIL
REJECT: int = Milter.REJECT
INTERNAL_ERROR = TempFail(
    "451", "4.3.0", "Temporary mail filter problem, try again later", "internal_error"
)


class SekishoMilter(Milter.Base):  # type: ignore[misc]  # pymilter ships no type hints
    def __init__(self, new_transaction: TransactionFactory) -> None:
        self._new_transaction = new_transaction
        self._transaction: MailTransaction | None = None
        self._failed = False
        self._client_address = ""
        self._client_name = ""
        self._server_name = ""
        self._helo = ""

    def connect(self, hostname: str, family: int, hostaddr: Any) -> int:
        # (address, port[, flow, scope]) for TCP clients; anything else is a local peer.
        self._client_address = str(hostaddr[0]) if isinstance(hostaddr, tuple) else ""
        # Postfix passes "[address]" for a client without a verified name; it writes
        # "unknown" for it in its own Received field, and rspamd expects that too.
        self._client_name = "unknown" if hostname.startswith("[") else hostname
        self._server_name = self.getsymval("j") or ""
        return CONTINUE

    @Milter.noreply  # type: ignore[untyped-decorator]
    def hello(self, hostname: str) -> int:
        # For the spam engine: rspamd checks the HELO name against the client.
        self._helo = hostname
        return CONTINUE

    @Milter.nocallback  # type: ignore[untyped-decorator]
    def data(self) -> int:
        return CONTINUE

    @Milter.nocallback  # type: ignore[untyped-decorator]
    def unknown(self, command: str) -> int:
        return CONTINUE

    def envfrom(self, sender: str, *params: str) -> int:
        self._reset()
        self._failed = False
        try:
            self._transaction = self._new_transaction()
            self._transaction.sender = sender
            # Postfix sends {auth_authen} with MAIL FROM (milter_mail_macros) on submission.
            self._transaction.submitter = self.getsymval("{auth_authen}") or ""
            self._transaction.client_address = self._client_address
            self._transaction.client_name = self._client_name
            self._transaction.helo = self._helo
            self._transaction.server_name = self._server_name
            return self._reply(self._transaction.check_submission())
        except Exception:
            log.exception("envfrom_failed")
            self._failed = True
        return CONTINUE

    def envrcpt(self, recipient: str, *params: str) -> int:
        # A 4xx here refuses one recipient, not the message.
        return self._guarded(
            lambda t: self._reply(t.add_recipient(recipient), ends_message=False),
            ends_message=False,
        )

    @Milter.noreply  # type: ignore[untyped-decorator]
    def header(self, name: str, value: str) -> int:
        return self._collect(lambda t: t.add_header(name, value))

    def eoh(self) -> int:
        def step(transaction: MailTransaction) -> int:
            transaction.queue_id = self.getsymval("i") or transaction.queue_id
            verdict = transaction.end_of_headers()
            if isinstance(verdict, Accept):
                metrics.count_tally(transaction.tally)
            return self._reply(verdict)

        return self._guarded(step)

    @Milter.noreply  # type: ignore[untyped-decorator]
    def body(self, chunk: bytes) -> int:
        return self._collect(lambda t: t.add_body(chunk))

    def eom(self) -> int:
        def step(transaction: MailTransaction) -> int:
            end = transaction.end_of_message()
            reply = self._apply(end)
            if isinstance(end.verdict, Accept | Discard):  # the mail was taken
                transaction.record_outcome()
            if not isinstance(end.verdict, TempFail):  # a deferred mail comes again
                metrics.count_tally(transaction.tally)
            return reply

        try:
            return self._guarded(step)
        finally:
            self._reset()

    def abort(self) -> int:
        self._reset()
        return CONTINUE

    def close(self) -> int:
        self._reset()
        return CONTINUE

    def _collect(self, step: Callable[[MailTransaction], None]) -> int:
        """A callback the MTA awaits no reply to: a failure is answered at the next reply."""
        if self._transaction is not None and not self._failed:
            try:
                step(self._transaction)
            except Exception:
                log.exception("collect_failed queue_id=%s", self._transaction.queue_id)
                self._failed = True
        return CONTINUE

    def _guarded(self, step: Callable[[MailTransaction], int], ends_message: bool = True) -> int:
        transaction = self._transaction
        if self._failed or transaction is None:
            return self._reply(INTERNAL_ERROR, ends_message)
        try:
            return step(transaction)
        except Exception:
            log.exception("callback_failed queue_id=%s", transaction.queue_id)
            return self._reply(INTERNAL_ERROR, ends_message)

    def _apply(self, end: EndOfMessage) -> int:
        for edit in end.edits:
            if isinstance(edit, DeleteRecipient):
                self.delrcpt(edit.recipient)
            elif isinstance(edit, AddRecipient):
                self.addrcpt(f"<{edit.recipient}>")
            elif isinstance(edit, ChangeSender):
                self.chgfrom(f"<{edit.sender}>")
            elif isinstance(edit, ChangeHeader):
                self.chgheader(edit.name, edit.index, edit.value)
            else:
                self.addheader(edit.name, edit.value)
        return self._reply(end.verdict)

    def _reply(self, verdict: Verdict, ends_message: bool = True) -> int:
        if ends_message and not isinstance(verdict, Continue):
            metrics.count_message(type(verdict).__name__.lower())
        if isinstance(verdict, TempFail):
            metrics.count_refusal("tempfail", verdict.reason)
            self.setreply(verdict.code, verdict.xcode, verdict.text)
            return TEMPFAIL
        if isinstance(verdict, Reject):
            metrics.count_refusal("reject", verdict.reason)
            self.setreply(verdict.code, verdict.xcode, verdict.text)
            return REJECT
        if isinstance(verdict, Accept):
            return ACCEPT
        if isinstance(verdict, Discard):
            return DISCARD
        return CONTINUE

    def _reset(self) -> None:
        if self._transaction is not None:
            self._transaction.close()
            self._transaction = None
