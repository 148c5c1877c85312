"""What every mail of the system to a mailbox owner shares: written in Japanese, then in
English, in one text/plain UTF-8 part (the owner's language is not known outside a
browser), sent from the filter's name at the owner's domain.

The mail is built with the email package: sender and subject of the mail it tells about
only ever appear in the body, on lines of their own, never in a header.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.header import Header
from email.message import Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.policy import compat32
from email.utils import format_datetime, formataddr, make_msgid
from functools import cache, partial
from pathlib import Path
from typing import Any

from babel.dates import format_datetime as format_local_time
from babel.dates import get_timezone
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sekisho.config import Settings
from sekisho.mailparts import utf8_text
from sekisho.store.models import utcnow
from sekisho.texts import LANGUAGES, TIMEZONE, Gettext, catalog, gettext_in

NOTICE_HEADER = "X-Sekisho-Notice"
TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Language:
    """One language a mail is written in: its words and its templates."""

    code: str

    @property
    def gettext(self) -> Gettext:
        return gettext_in(self.code)

    def render(self, template: str, **context: Any) -> str:
        return _templates(self.code).get_template(template).render(**context)


@dataclass(frozen=True)
class Text:
    subject: str
    body: str
    sender_name: str


def bilingual(write: Callable[[Language], tuple[str, str]]) -> Text:
    """The (subject, body) ``write`` gives in Japanese, then in English; the sender's name
    in Japanese."""
    written = [write(Language(code)) for code in LANGUAGES]
    return Text(
        " / ".join(subject for subject, _ in written),
        "\n\n".join(body for _, body in written),
        gettext_in(LANGUAGES[0])("Mail filter"),
    )


def system_mail(
    settings: Settings, address: str, text: Text, kind: str, original: bytes | None = None
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


def one_line(text: str, limit: int = 200) -> str:
    """A sender's text on one line of a plain-text mail: line breaks and other control
    characters become spaces (they could fake a line of the notice), and it is cut short."""
    flat = "".join(" " if not character.isprintable() else character for character in text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@cache
def _templates(language: str) -> Environment:
    # Plain text: nothing to escape. A name the template uses but the mail did not pass
    # is an error, as on the web UI's pages.
    templates = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,  # noqa: S701 -- text/plain mail, not HTML
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    templates.install_gettext_translations(catalog(language), newstyle=True)  # type: ignore[attr-defined]
    templates.filters["datetimeformat"] = partial(
        format_local_time, tzinfo=get_timezone(TIMEZONE), locale=language
    )
    templates.filters["oneline"] = one_line
    return templates
