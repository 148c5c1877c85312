"""Header reject settings: which of the five checks a mailbox has on, with their hits."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sekisho.rules.model import HeaderCheck
from sekisho.store.accounts import bump_settings_version
from sekisho.store.models import HeaderRuleRecord


def header_records(session: Session, account_id: int) -> dict[HeaderCheck, HeaderRuleRecord]:
    rows = session.scalars(
        select(HeaderRuleRecord).where(HeaderRuleRecord.account_id == account_id)
    )
    return {HeaderCheck(row.header_check): row for row in rows}


def header_checks(session: Session, account_id: int) -> frozenset[HeaderCheck]:
    return frozenset(header_records(session, account_id))


def set_header_checks(session: Session, account_id: int, checks: Iterable[HeaderCheck]) -> None:
    """Turn exactly ``checks`` on: unchecked ones are removed, kept ones keep their hits."""
    wanted = set(checks)
    current = header_checks(session, account_id)
    session.execute(
        delete(HeaderRuleRecord).where(
            HeaderRuleRecord.account_id == account_id,
            HeaderRuleRecord.header_check.in_([c.value for c in current - wanted]),
        )
    )
    session.add_all(
        HeaderRuleRecord(account_id=account_id, header_check=c.value, hit_count=0)
        for c in wanted - current
    )
    bump_settings_version(session, account_id)
    session.flush()
