"""The ``[spam]``-tagged copy for the mailboxes that want the tag, when others of the same
message must get it untagged.

A milter gives one content to every recipient of a message. Splitting at RCPT (452 4.5.3,
"send the rest separately") makes the sending MTA defer those recipients to its next
queue run — five minutes and more with Postfix, for every such message, spam or not. So
the tagging mailboxes' copy is written into their inbox (the Maildir's top folder) the
way a quarantine copy is written into ``.Junk``: durably, under the one name the
message's key gives (sekisho.maildir.keyed_name), with the fields a local delivery adds.
Its ledger row is committed in the message's one store transaction, and only then are
those recipients removed from the original.

Exactly once across crashes and retries: a retry finds the ledger row and writes nothing;
one after a crash between the file and its row finds the file under its name, and
replaces it (still in new/) or keeps it (a mail program has seen it). A row that did not
commit takes its file away again (withdraw), as a quarantine copy's does: no copy of a
message that was deferred. (It used to go through Postfix's re-injection listener: a
milter dying between that listener's 250 and the ledger's commit sent it twice.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sekisho.envelope import Envelope, delivery_fields
from sekisho.maildir import (
    Ownership,
    deliver_once,
    ensure_maildir,
    keyed_name,
    mailbox_path,
    remove_message,
)
from sekisho.rules.model import Policy
from sekisho.store.db import IoRunner, Store, run_here
from sekisho.store.models import utcnow
from sekisho.store.outbox import TAGGED_COPY, already_queued, enqueue


@dataclass(frozen=True)
class TaggedCopy:
    """A copy written into a mailbox's inbox, its ledger row still to be recorded."""

    inbox: Path
    name: str
    ledger_key: str
    account_id: int
    address: str


class TaggedCopies:
    def __init__(
        self, store: Store, mail_root: Path, ownership: Ownership, io: IoRunner[Any] = run_here
    ) -> None:
        self._store = store
        self._mail_root = mail_root
        self._ownership = ownership
        self._io = io

    @staticmethod
    def ledger_key(message_key: str, address: str) -> str:
        digest = hashlib.sha256(address.encode("utf-8", "surrogateescape")).hexdigest()
        return f"{TAGGED_COPY}:{message_key[:64]}:{digest[:16]}"

    def write(
        self,
        mailboxes: Sequence[Policy],
        message_key: str,
        message: Callable[[], Iterable[bytes]],
        sender: str,
        envelope: Envelope,
    ) -> list[TaggedCopy]:
        """Each mailbox's copy, durably in its inbox (through ``io``: the milter's store
        threads), but for the mailboxes an earlier attempt of the message recorded a copy
        for. ``message`` gives the copy's chunks afresh for each mailbox. Returns the
        copies whose rows are for ``record``."""

        def work() -> list[TaggedCopy]:
            keys = [self.ledger_key(message_key, policy.address) for policy in mailboxes]
            with self._store.read() as session:
                recorded = set(already_queued(session, keys))
            written: list[TaggedCopy] = []
            try:
                for policy, key in zip(mailboxes, keys, strict=True):
                    if key in recorded:
                        continue
                    inbox = mailbox_path(self._mail_root, policy.address)
                    ensure_maildir(inbox, self._ownership, is_subfolder=False)
                    name = keyed_name(key)
                    fields = delivery_fields(sender, policy.address, envelope)
                    deliver_once(inbox, name, chain([fields], message()), self._ownership)
                    written.append(TaggedCopy(inbox, name, key, policy.account_id, policy.address))
            except BaseException:
                # One mailbox's inbox failed (a full disk): the message is deferred, so
                # the copies already written for the others go too.
                for copy in written:
                    remove_message(copy.inbox / "new" / copy.name)
                raise
            return written

        copies: list[TaggedCopy] = self._io(work)
        return copies

    @staticmethod
    def record(session: Session, copies: Sequence[TaggedCopy]) -> None:
        """The copies' ledger rows, in the message's transaction: outbox rows born sent
        (the worker never sends them; the purge removes them with the finished rows)."""
        for copy in copies:
            enqueue(
                session,
                TAGGED_COPY,
                copy.ledger_key,
                copy.address,
                account_id=copy.account_id,
                sent_at=utcnow(),
            )

    def withdraw(self, copies: Sequence[TaggedCopy]) -> None:
        """After the message's transaction failed: remove the copies the store says have
        no row (the message is deferred; its retry writes them again). A copy the store
        cannot say about stays, as does one a mail program has already taken from new/."""

        def work() -> None:
            try:
                with self._store.read() as session:
                    recorded = set(already_queued(session, [c.ledger_key for c in copies]))
            except SQLAlchemyError:
                return
            for copy in copies:
                if copy.ledger_key not in recorded:
                    remove_message(copy.inbox / "new" / copy.name)

        self._io(work)
