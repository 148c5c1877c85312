"""Auto-replies the milter asks for: an outbox row per mailbox that answers a mail.

The row holds what the reply needs (the mailbox, the owner's text chosen for this
sender, the subject, Message-ID and References of the mail) and goes to the envelope
sender. A sender replied to within 24 hours gets no row; whether the reply is really
sent is decided again by the worker (sekisho.store.auto_reply.reserve), which sees
replies other nodes sent meanwhile. The same message presented again adds no row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from sekisho.rules.model import Policy
from sekisho.store.auto_reply import replied_recently
from sekisho.store.db import IoRunner, Store, run_here
from sekisho.store.outbox import AUTO_REPLY, already_queued, enqueue


@dataclass(frozen=True)
class Answered:
    """The mail being answered, as its header fields came (the worker rebuilds them)."""

    sender: str
    subject: str
    message_id: str
    references: str


class AutoReplies:
    def __init__(self, store: Store, io: IoRunner[Any] = run_here) -> None:
        self._store = store
        self._io = io

    def put(
        self, replies: list[tuple[Policy, str]], answered: Answered, message_key: str, now: datetime
    ) -> int:
        """The rows of ``write`` in a transaction of their own."""

        def work() -> int:
            with self._store.transaction() as session:
                return self.write(session, replies, answered, message_key, now)

        return int(self._io(work))

    @staticmethod
    def write(
        session: Session,
        replies: list[tuple[Policy, str]],
        answered: Answered,
        message_key: str,
        now: datetime,
    ) -> int:
        """One row per (mailbox, text) in ``replies``, in the caller's transaction; how many
        were written (none for a message seen before or a sender answered today)."""
        keys = {
            f"{AUTO_REPLY}:{policy.account_id}:{message_key}": (policy, text)
            for policy, text in replies
        }
        written = 0
        for key in already_queued(session, list(keys)):
            del keys[key]
        for key, (policy, text) in keys.items():
            if replied_recently(session, policy.account_id, answered.sender, now):
                continue
            written += 1
            details = {
                "mailbox": policy.address,
                "text": text,
                "subject": answered.subject,
                "message_id": answered.message_id,
                "references": answered.references,
            }
            enqueue(
                session,
                AUTO_REPLY,
                key,
                answered.sender,
                account_id=policy.account_id,
                details=json.dumps(details, ensure_ascii=False),
            )
        return written
