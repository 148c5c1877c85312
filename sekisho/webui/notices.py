"""Mail sekisho writes to a mailbox owner: 隔離通知メール (what the spam scan quarantined)
and the virus report (what the virus scan removed, with the disinfected original).

Rendered with the web UI's own templates and translations (the reasons read as in the
spam folder), Japanese first and English second in one text/plain UTF-8 part, since
the owner's language is not known outside a browser. Each copy comes with its release
link. The mail is built with the email package: sender and subject of the caught mail
only ever appear in the body, on lines of their own, never in a header.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.header import Header
from email.message import Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

from flask import Flask, render_template, url_for
from flask_babel import force_locale, gettext

from sekisho.config import Settings
from sekisho.mailparts import utf8_text
from sekisho.store.models import QuarantinedMessage, utcnow
from sekisho.webui import LANGUAGES
from sekisho.webui.quarantine import reason_text
from sekisho.webui.release_links import ReleaseTarget, release_token

NOTICE_HEADER = "X-Sekisho-Notice"


def compose_notice(
    app: Flask,
    settings: Settings,
    address: str,
    records: list[QuarantinedMessage],
    web_url: str,
) -> Message:
    """One notice to ``address`` listing ``records`` (one copy, or a digest of several).

    Rendered in a request context whose base is ``web_url``, the web UI as this owner
    reaches it (their login site), so the links work whatever process builds them.
    """
    with app.test_request_context(base_url=web_url):
        secret_key = app.config["SECRET_KEY"]
        items = [
            (
                record,
                reason_text(record),
                url_for(
                    "release_link.confirm",
                    token=release_token(
                        secret_key,
                        ReleaseTarget(record.account_id, record.id, record.message_key),
                    ),
                    _external=True,
                ),
            )
            for record in records
        ]
        text = _in_both_languages(
            lambda: gettext("Spam quarantine notice (%(count)d)", count=len(records)),
            "mail/quarantine_notice.txt",
            address=address,
            items=items,
            days=settings.quarantine_days,
        )
    return _system_mail(settings, address, text, "quarantine")


def compose_virus_report(
    app: Flask, settings: Settings, address: str, details: dict[str, str], original: bytes
) -> Message:
    """The report of one removed mail: virus, sender, subject and date, and the original
    (its infected parts already replaced by sekisho.milter.disinfect) attached."""
    with app.test_request_context(base_url=settings.public_web_url):
        text = _in_both_languages(
            lambda: gettext("Virus found: %(virus)s", virus=details["virus"]),
            "mail/virus_report.txt",
            address=address,
            details=details,
            received_at=datetime.fromisoformat(details["received_at"]),
        )
    return _system_mail(settings, address, text, "virus", original)


@dataclass(frozen=True)
class _Text:
    subject: str
    body: str
    sender_name: str


def _in_both_languages(subject: Callable[[], str], template: str, **context: Any) -> _Text:
    """Subject and body in Japanese, then English (the owner's language is not known
    outside a browser), and the sender's name in Japanese."""
    subjects, bodies = [], []
    for language in LANGUAGES:
        with force_locale(language):
            subjects.append(subject())
            bodies.append(render_template(template, **context))
    with force_locale(LANGUAGES[0]):
        sender_name = str(gettext("Mail filter"))
    return _Text(" / ".join(subjects), "\n\n".join(bodies), sender_name)


def _system_mail(
    settings: Settings, address: str, text: _Text, kind: str, original: bytes | None = None
) -> Message:
    """A mail of the system to a mailbox owner, with ``original`` attached if given.

    compat32 throughout: an original is carried as it came, raw 8-bit header fields
    included; the default policy would refold them and fail on undecodable bytes.
    """
    body = utf8_text(text.body)
    message: Message = body
    if original is not None:
        message = MIMEMultipart("mixed")
        message.attach(body)
        message.attach(MIMEMessage(message_from_bytes(original, policy=compat32)))
    domain = address.rpartition("@")[2]
    message["From"] = settings.notice_from or formataddr(
        (text.sender_name, f"postmaster@{domain}"), charset="utf-8"
    )
    message["To"] = address
    # compat32 takes a Header and encodes it on output (typeshed allows only str).
    message["Subject"] = Header(text.subject, "utf-8")  # type: ignore[assignment]
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message[NOTICE_HEADER] = kind
    return message
