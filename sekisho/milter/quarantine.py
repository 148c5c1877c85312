"""Quarantine a copy: write it into the recipient's ``.Junk`` Maildir, then record it.

Order matters for "nothing lost": the file is durable before the row is committed, and
the row is committed before the milter removes the recipient. A repeated attempt of the
same message (same key) finds the row and writes nothing twice; one after a crash between
the file and the row finds the file under the same name (sekisho.maildir.keyed_name)
and replaces it, so the folder never holds the message twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from sekisho.envelope import Envelope, delivery_fields, postfix_received_field
from sekisho.maildir import (
    JUNK_FOLDER,
    Ownership,
    deliver_once,
    ensure_maildir,
    keyed_name,
    mailbox_path,
    remove_message,
)
from sekisho.milter.headers import QUARANTINE_REASON, quarantine_reason
from sekisho.rules import spam
from sekisho.rules.encoded_words import readable
from sekisho.rules.model import Policy, RuleHit
from sekisho.store.db import IoRunner, Store, run_here
from sekisho.store.models import utcnow
from sekisho.store.quarantine import (
    RETENTION,
    QuarantineRecord,
    already_quarantined,
    enqueue_notice,
    notice_due,
    record_quarantine,
)


@dataclass(frozen=True)
class Copy:
    """A copy written into a ``.Junk`` folder, its row still to be recorded."""

    folder: Path
    record: QuarantineRecord
    notice_at: datetime | None


class Quarantine:
    def __init__(
        self,
        store: Store,
        mail_root: Path,
        ownership: Ownership,
        io: IoRunner[Any] = run_here,
        retention: timedelta = RETENTION,
        notice_digest_minutes: int = 0,
    ) -> None:
        self._store = store
        self._mail_root = mail_root
        self._ownership = ownership
        self._io = io
        self._retention = retention
        self._notice_digest_minutes = notice_digest_minutes

    def put(
        self,
        policy: Policy,
        hit: RuleHit,
        sender: str,
        subject: str,
        queue_id: str,
        message_key: str,
        message: Iterable[bytes],
        envelope: Envelope,
    ) -> None:
        """One copy: written durably, then its row in a transaction of its own."""
        copy = self.write_copy(
            policy, hit, sender, subject, queue_id, message_key, message, envelope
        )
        self.record_with([copy] if copy else [], lambda _session: 0)

    def write_copy(
        self,
        policy: Policy,
        hit: RuleHit,
        sender: str,
        subject: str,
        queue_id: str,
        message_key: str,
        message: Iterable[bytes],
        envelope: Envelope,
    ) -> Copy | None:
        """Write the copy durably (through ``io``: the milter's store threads); its row is
        for ``record_with``. None when an earlier attempt of the message recorded it.
        ``envelope`` gives the trace Postfix would have written (its Received field and
        X-Original-To), which a copy released to the inbox keeps."""

        def work() -> Copy | None:
            with self._store.read() as session:
                if already_quarantined(session, policy.account_id, message_key):
                    return None
            mailbox = mailbox_path(self._mail_root, policy.address)
            ensure_maildir(mailbox, self._ownership, is_subfolder=False)
            folder = mailbox / JUNK_FOLDER
            ensure_maildir(folder, self._ownership, is_subfolder=True)
            name = keyed_name(message_key)
            trace = _trace_headers(sender, policy.address, hit, envelope)
            deliver_once(folder, name, _chain(trace, message), self._ownership)
            record = QuarantineRecord(
                account_id=policy.account_id,
                address=policy.address,
                message_key=message_key,
                file_name=name,
                rule=hit.rule,
                entry=readable(hit.entry),
                matched=readable(hit.matched),
                sender=readable(sender),
                subject=subject,
                queue_id=queue_id,
            )
            return Copy(folder, record, self._notice_at(policy, hit))

        found: Copy | None = self._io(work)
        return found

    def record_with(self, copies: list[Copy], rows: Callable[[Session], int]) -> int:
        """The copies' rows (and notices) and whatever ``rows`` writes, in one transaction:
        the message's one store commit. Returns what ``rows`` returned. A copy whose row
        did not commit is removed (no copy without its row) unless another attempt of the
        same message recorded it meanwhile; that attempt wrote the other rows too. When
        the store cannot say (the connection lost at COMMIT, the server gone), the copy
        stays: its row may exist, and a row without its copy is a lost mail, while a copy
        without its row is taken over by the sender's retry under its name."""

        def work() -> int:
            try:
                with self._store.transaction() as session:
                    for copy in copies:
                        row = record_quarantine(session, copy.record, self._retention)
                        if copy.notice_at is not None:
                            session.flush()
                            enqueue_notice(session, row, copy.record.address, copy.notice_at)
                    return rows(session)
            except BaseException as error:
                recorded = [
                    _recorded(self._store, copy.record.account_id, copy.record.message_key)
                    for copy in copies
                ]
                if copies and all(recorded) and isinstance(error, IntegrityError):
                    return 0
                _remove_unrecorded(copies, recorded)
                raise

        return int(self._io(work))

    def withdraw(self, copies: list[Copy]) -> None:
        """The message is deferred before its transaction (another of its side effects
        failed): remove the copies the store says have no row, as ``record_with`` does."""

        def work() -> None:
            recorded = [
                _recorded(self._store, copy.record.account_id, copy.record.message_key)
                for copy in copies
            ]
            _remove_unrecorded(copies, recorded)

        self._io(work)

    def _notice_at(self, policy: Policy, hit: RuleHit) -> datetime | None:
        if not spam.announced(policy, hit):
            return None
        return notice_due(utcnow(), self._notice_digest_minutes)


def _remove_unrecorded(copies: list[Copy], recorded: list[bool | None]) -> None:
    for copy, done in zip(copies, recorded, strict=True):
        if done is False:
            remove_message(copy.folder / "new" / copy.record.file_name)


def _recorded(store: Store, account_id: int, message_key: str) -> bool | None:
    """Whether the copy's row exists; None when the store cannot say."""
    try:
        with store.read() as session:
            return already_quarantined(session, account_id, message_key)
    except SQLAlchemyError:
        return None


def _trace_headers(sender: str, recipient: str, hit: RuleHit, envelope: Envelope) -> bytes:
    """What Postfix and a local delivery would add, plus the reason: the copy reads like a
    delivered mail, and one released to the inbox still says where it came from. The
    Received field is written without the SASL login, as Postfix writes it by default."""
    received = postfix_received_field(envelope, formatdate(localtime=True), show_login=False)
    reason = f"{QUARANTINE_REASON}: {quarantine_reason(hit)}\n".encode("utf-8", "surrogateescape")
    return delivery_fields(sender, recipient, envelope) + reason + received


def _chain(first: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest
