"""転送設定 of a mailbox: its forwarding addresses, read, added, deleted, replaced."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sekisho.rules.addresses import normalize_address
from sekisho.rules.forwarding import ForwardTarget
from sekisho.store.accounts import bump_settings_version
from sekisho.store.models import ForwardingTarget


def targets(session: Session, account_id: int) -> list[ForwardingTarget]:
    return list(
        session.scalars(
            select(ForwardingTarget)
            .where(ForwardingTarget.account_id == account_id)
            .order_by(ForwardingTarget.id)
        )
    )


def forward_targets(session: Session, account_id: int) -> tuple[ForwardTarget, ...]:
    return tuple(ForwardTarget(row.address, row.keep) for row in targets(session, account_id))


def add_target(session: Session, account_id: int, address: str, keep: bool) -> None:
    """Checked before (sekisho.rules.forwarding); a double 「登録」 is stopped by the key."""
    session.add(
        ForwardingTarget(account_id=account_id, address=normalize_address(address), keep=keep)
    )
    bump_settings_version(session, account_id)
    session.flush()


def delete_target(session: Session, account_id: int, target_id: int) -> int:
    result = session.execute(
        delete(ForwardingTarget).where(
            ForwardingTarget.account_id == account_id, ForwardingTarget.id == target_id
        )
    )
    bump_settings_version(session, account_id)
    return int(getattr(result, "rowcount", 0) or 0)


def replace_targets(session: Session, account_id: int, new: Iterable[ForwardTarget]) -> None:
    session.execute(delete(ForwardingTarget).where(ForwardingTarget.account_id == account_id))
    for target in new:
        session.add(
            ForwardingTarget(
                account_id=account_id, address=normalize_address(target.address), keep=target.keep
            )
        )
    bump_settings_version(session, account_id)
    session.flush()
