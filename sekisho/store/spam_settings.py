"""The spam scan switches of a mailbox (迷惑メールスキャン設定), read and written."""

from __future__ import annotations

from sqlalchemy.orm import Session

from sekisho.rules.model import SpamSetting
from sekisho.store.accounts import bump_settings_version
from sekisho.store.models import SpamSettingRecord


def spam_setting(session: Session, account_id: int) -> SpamSetting:
    row = session.get(SpamSettingRecord, account_id)
    if row is None:
        return SpamSetting()
    return SpamSetting(enabled=row.enabled, quarantine=row.quarantine, notify=row.notify)


def set_spam_setting(session: Session, account_id: int, setting: SpamSetting) -> None:
    row = session.get(SpamSettingRecord, account_id) or SpamSettingRecord(account_id=account_id)
    row.enabled, row.quarantine, row.notify = setting.enabled, setting.quarantine, setting.notify
    session.add(row)
    bump_settings_version(session, account_id)
    session.flush()
