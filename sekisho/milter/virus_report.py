"""The virus report of one recipient: an outbox row the worker turns into the report mail.

Written before the milter removes the recipient (DESIGN.md: nothing lost): the row holds
the virus, sender, subject and date, and the original with its infected parts replaced
(sekisho.milter.disinfect). The same message presented again adds no second row.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.exc import IntegrityError

from sekisho.milter.disinfect import FindVirus, without_infected_parts
from sekisho.rules.model import Policy
from sekisho.rules.problems import N_
from sekisho.store.db import IoRunner, Store, run_here
from sekisho.store.models import utcnow
from sekisho.store.outbox import VIRUS_REPORT, enqueue
from sekisho.texts import in_both_languages

REMOVED_PART = N_(
    "This part (%(name)s) contained a virus (%(virus)s) and was removed by the virus scan."
)


def removed_part_text(virus: str, file_name: str) -> str:
    return in_both_languages(REMOVED_PART, name=file_name or "-", virus=virus)


class VirusReports:
    def __init__(self, store: Store, io: IoRunner[Any] = run_here) -> None:
        self._store = store
        self._io = io

    def put(
        self,
        policy: Policy,
        virus: str,
        sender: str,
        subject: str,
        message_key: str,
        message: bytes,
        find_virus: FindVirus,
    ) -> None:
        def work() -> None:
            cleaned = without_infected_parts(message, find_virus, removed_part_text)
            details = {
                "virus": virus,
                "sender": sender,
                "subject": subject,
                "received_at": utcnow().isoformat(),
            }
            try:
                with self._store.transaction() as session:
                    enqueue(
                        session,
                        VIRUS_REPORT,
                        f"{VIRUS_REPORT}:{policy.account_id}:{message_key}",
                        policy.address,
                        account_id=policy.account_id,
                        details=json.dumps(details, ensure_ascii=False),
                        content=cleaned,
                    )
            except IntegrityError:
                return  # an earlier attempt of the same message wrote it

        self._io(work)
