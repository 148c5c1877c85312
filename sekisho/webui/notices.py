"""隔離通知メール: the mail that tells a mailbox owner what the spam scan quarantined.

Rendered with the web UI's own templates and translations (the reasons read as in the
spam folder), Japanese first and English second in one text/plain UTF-8 part, since
the owner's language is not known outside a browser. Each copy comes with its release
link. The mail is built with the email package: sender and subject of the caught mail
only ever appear in the body, on lines of their own, never in a header.
"""

from __future__ import annotations

from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import Flask, render_template, url_for
from flask_babel import force_locale, gettext

from sekisho.config import Settings
from sekisho.store.models import QuarantinedMessage, utcnow
from sekisho.webui import LANGUAGES
from sekisho.webui.quarantine import reason_text
from sekisho.webui.release_links import ReleaseTarget, release_token

NOTICE_HEADER = "X-Sekisho-Notice"


def compose_notice(
    app: Flask, settings: Settings, address: str, records: list[QuarantinedMessage]
) -> EmailMessage:
    """One notice to ``address`` listing ``records`` (one copy, or a digest of several).

    Rendered in a request context whose base is the public web UI (web_url), so the links
    carry the address the owners reach it at, whatever process builds them.
    """
    with app.test_request_context(base_url=settings.public_web_url):
        secret_key = app.config["SECRET_KEY"]
        items = [
            (
                record,
                url_for(
                    "release_link.confirm",
                    token=release_token(secret_key, ReleaseTarget(record.account_id, record.id)),
                    _external=True,
                ),
            )
            for record in records
        ]
        subjects, bodies = [], []
        for language in LANGUAGES:
            with force_locale(language):
                subjects.append(gettext("Spam quarantine notice (%(count)d)", count=len(records)))
                bodies.append(
                    render_template(
                        "mail/quarantine_notice.txt",
                        address=address,
                        items=[(record, reason_text(record), link) for record, link in items],
                        days=settings.quarantine_days,
                    )
                )
        with force_locale(LANGUAGES[0]):
            display_name = gettext("Mail filter")
    message = EmailMessage()
    domain = address.rpartition("@")[2]
    message["From"] = settings.notice_from or Address(display_name, "postmaster", domain)
    message["To"] = address
    message["Subject"] = " / ".join(subjects)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message[NOTICE_HEADER] = "quarantine"
    message.set_content("\n\n".join(bodies), charset="utf-8", cte="8bit")
    return message
