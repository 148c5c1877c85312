"""The spam scan switches of a mailbox (迷惑メールスキャン設定), read and written."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho.rules.model import SpamSetting
from sekisho.store.accounts import bump_settings_version
from sekisho.store.models import Account, SpamSettingRecord


def spam_setting(session: Session, account_id: int) -> SpamSetting:
    row = session.get(SpamSettingRecord, account_id)
    if row is None:
        return SpamSetting()
    return SpamSetting(enabled=row.enabled, quarantine=row.quarantine, notify=row.notify)


def accounts_wanting_notices(session: Session, account_ids: set[int]) -> set[int]:
    """Of ``account_ids``, the active ones with 隔離メール通知 on."""
    return set(
        session.scalars(
            select(Account.id)
            .join(SpamSettingRecord, SpamSettingRecord.account_id == Account.id)
            .where(
                Account.id.in_(account_ids),
                Account.status == "active",
                SpamSettingRecord.notify.is_(True),
            )
        )
    )


def set_spam_setting(session: Session, account_id: int, setting: SpamSetting) -> None:
    row = session.get(SpamSettingRecord, account_id) or SpamSettingRecord(account_id=account_id)
    row.enabled, row.quarantine, row.notify = setting.enabled, setting.quarantine, setting.notify
    session.add(row)
    bump_settings_version(session, account_id)
    session.flush()
