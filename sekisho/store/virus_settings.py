"""The virus scan switch of a mailbox (ウィルススキャン設定), read and written."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sekisho.store.accounts import bump_settings_version
from sekisho.store.models import VirusSettingRecord


def virus_scan_enabled(session: Session, account_id: int) -> bool:
    row = session.get(VirusSettingRecord, account_id)
    return row is not None and row.enabled


def set_virus_scan(session: Session, account_id: int, enabled: bool) -> None:
    row = session.get(VirusSettingRecord, account_id) or VirusSettingRecord(account_id=account_id)
    row.enabled = enabled
    session.add(row)
    bump_settings_version(session, account_id)
    session.flush()
