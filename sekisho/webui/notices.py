"""Mail sekisho writes to a mailbox owner: 隔離通知メール (what the spam scan quarantined)
and the virus report (what the virus scan removed, with the disinfected original).

Rendered with the web UI's own templates and translations (the reasons read as in the
spam folder), Japanese first and English second in one text/plain UTF-8 part, since
the owner's language is not known outside a browser. Each copy comes with its release
link. The mail is built with the email package: sender and subject of the caught mail
only ever appear in the body, on lines of their own, never in a header.
"""

from __future__ import annotations

from datetime import datetime
from email import message_from_bytes
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid

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
                    token=release_token(
                        secret_key,
                        ReleaseTarget(record.account_id, record.id, record.message_key),
                    ),
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
    message = _system_mail(settings, address, " / ".join(subjects), display_name, "quarantine")
    message.set_content("\n\n".join(bodies), charset="utf-8", cte="8bit")
    return message


def _system_mail(
    settings: Settings, address: str, subject: str, display_name: str, kind: str
) -> EmailMessage:
    """The header fields every mail of the system to a mailbox owner carries."""
    message = EmailMessage()
    domain = address.rpartition("@")[2]
    message["From"] = settings.notice_from or Address(display_name, "postmaster", domain)
    message["To"] = address
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message[NOTICE_HEADER] = kind
    return message


def compose_virus_report(
    app: Flask, settings: Settings, address: str, details: dict[str, str], original: bytes
) -> Message:
    """The report of one removed mail: virus, sender, subject and date, and the original
    (its infected parts already replaced by sekisho.milter.disinfect) attached."""
    received = datetime.fromisoformat(details["received_at"])
    subjects, bodies = [], []
    with app.test_request_context(base_url=settings.public_web_url):
        for language in LANGUAGES:
            with force_locale(language):
                subjects.append(gettext("Virus found: %(virus)s", virus=details["virus"]))
                bodies.append(
                    render_template(
                        "mail/virus_report.txt",
                        address=address,
                        details=details,
                        received_at=received,
                    )
                )
        with force_locale(LANGUAGES[0]):
            display_name = gettext("Mail filter")
    # compat32 throughout: the original is carried as it came, raw 8-bit header fields
    # included; the default policy would refold them and fail on undecodable bytes.
    report = MIMEMultipart("mixed")
    domain = address.rpartition("@")[2]
    report["From"] = settings.notice_from or formataddr(
        (display_name, f"postmaster@{domain}"), charset="utf-8"
    )
    report["To"] = address
    # compat32 takes a Header and encodes it on output (typeshed allows only str).
    report["Subject"] = Header(" / ".join(subjects), "utf-8")  # type: ignore[assignment]
    report["Date"] = format_datetime(utcnow())
    report["Message-ID"] = make_msgid(domain=domain)
    report["Auto-Submitted"] = "auto-generated"
    report[NOTICE_HEADER] = "virus"
    report.attach(MIMEText("\n\n".join(bodies), "plain", "utf-8"))
    report.attach(MIMEMessage(message_from_bytes(original, policy=compat32)))
    return report
