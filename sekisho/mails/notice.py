"""隔離通知メール: what the spam scan (or a reject rule) put into the spam folder, one copy
or a digest of several, each with its release link and its reason as the spam folder
page gives it, in the language of each half of the mail."""

from __future__ import annotations

from email.message import Message

from sekisho.config import Settings
from sekisho.mails.release_links import ReleaseTarget, release_url
from sekisho.mails.system import Language, bilingual, system_mail
from sekisho.reasons import reason_text
from sekisho.store.models import QuarantinedMessage


def compose_notice(
    settings: Settings,
    secret_key: str,
    address: str,
    records: list[QuarantinedMessage],
    web_url: str,
) -> Message:
    """One notice to ``address`` listing ``records``; the links go to ``web_url``, the
    web UI as this owner reaches it (their login site), signed with ``secret_key``."""
    links = [
        release_url(
            web_url, secret_key, ReleaseTarget(record.account_id, record.id, record.message_key)
        )
        for record in records
    ]

    def write(language: Language) -> tuple[str, str]:
        items = [
            (record, reason_text(record, language.gettext), link)
            for record, link in zip(records, links, strict=True)
        ]
        subject = language.gettext("Spam quarantine notice (%(count)d)", count=len(records))
        body = language.render(
            "quarantine_notice.txt", address=address, items=items, days=settings.quarantine_days
        )
        return subject, body

    return system_mail(settings, address, bilingual(write), "quarantine")
