"""The virus report of one recipient: an outbox row the worker turns into the report mail.

Written before the milter removes the recipients (DESIGN.md: nothing lost): a row per
mailbox holds the virus, sender, subject and date, and the original with its infected
parts replaced (sekisho.milter.disinfect, done once per message by the transaction). The
same message presented again adds no second row; two attempts racing each other are
stopped by the unique key, which temp-fails the later one.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from sekisho.rules.model import Policy
from sekisho.store.db import IoRunner, Store, run_here
from sekisho.store.models import utcnow
from sekisho.store.outbox import VIRUS_REPORT, already_queued, enqueue


class VirusReports:
    def __init__(self, store: Store, io: IoRunner[Any] = run_here) -> None:
        self._store = store
        self._io = io

    def put(
        self,
        policies: list[Policy],
        virus: str,
        sender: str,
        subject: str,
        message_key: str,
        cleaned: bytes,
    ) -> None:
        """One row per mailbox in a transaction of its own."""

        def work() -> None:
            with self._store.transaction() as session:
                self.write(session, policies, virus, sender, subject, message_key, cleaned)

        self._io(work)

    @staticmethod
    def write(
        session: Session,
        policies: list[Policy],
        virus: str,
        sender: str,
        subject: str,
        message_key: str,
        cleaned: bytes,
    ) -> None:
        """One row per mailbox in the caller's transaction; mailboxes an earlier attempt
        of the same message already reported are left out."""
        details = json.dumps(
            {
                "virus": virus,
                "sender": sender,
                "subject": subject,
                "received_at": utcnow().isoformat(),
            },
            ensure_ascii=False,
        )
        keys = {f"{VIRUS_REPORT}:{policy.account_id}:{message_key}": policy for policy in policies}
        for key in already_queued(session, list(keys)):
            del keys[key]
        for key, policy in keys.items():
            enqueue(
                session,
                VIRUS_REPORT,
                key,
                policy.address,
                account_id=policy.account_id,
                details=details,
                content=cleaned,
            )
