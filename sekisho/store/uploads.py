"""CSV uploads between their check and their 「登録」: staged in the store, taken once."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sekisho.rules.lists import ListKind
from sekisho.store.models import PendingUpload, utcnow

# An upload not confirmed within this time is dropped by the next upload of anyone.
UPLOAD_KEPT = timedelta(hours=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def stage_upload(
    session: Session, account_id: int, kind: ListKind, token: str, values: Sequence[str]
) -> None:
    """Keep ``values`` for ``token``; an earlier upload of the same list is replaced."""
    session.execute(
        delete(PendingUpload).where(
            ((PendingUpload.account_id == account_id) & (PendingUpload.kind == kind.name))
            | (PendingUpload.created_at < utcnow() - UPLOAD_KEPT)
        )
    )
    session.add(
        PendingUpload(
            account_id=account_id,
            kind=kind.name,
            token_digest=_digest(token),
            entries="\n".join(values),
        )
    )


def take_upload(session: Session, account_id: int, kind: ListKind, token: str) -> list[str] | None:
    """The staged values of ``token``, removed as they are taken: a second 「登録」 (or one
    racing on another web node) gets None."""
    staged = session.execute(
        select(PendingUpload.id, PendingUpload.entries).where(
            PendingUpload.account_id == account_id,
            PendingUpload.kind == kind.name,
            PendingUpload.token_digest == _digest(token),
            PendingUpload.created_at >= utcnow() - UPLOAD_KEPT,
        )
    ).one_or_none()
    if staged is None:
        return None
    taken = session.execute(delete(PendingUpload).where(PendingUpload.id == staged.id))
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return staged.entries.split("\n") if staged.entries else []
