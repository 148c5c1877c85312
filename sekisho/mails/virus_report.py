"""The virus report of one removed mail: virus, sender, subject and date, with the original
attached, its infected parts replaced by ``removed_part_text`` (sekisho.milter.disinfect)."""

from __future__ import annotations

from datetime import datetime
from email.message import Message

from sekisho.config import Settings
from sekisho.mails.system import Language, bilingual, system_mail
from sekisho.rules.problems import N_
from sekisho.texts import in_both_languages

REMOVED_PART = N_(
    "This part (%(name)s) contained a virus (%(virus)s) and was removed by the virus scan."
)
# An attachment need not have a file name; "This part (-)" read like a broken template.
REMOVED_UNNAMED_PART = N_(
    "This part (no file name) contained a virus (%(virus)s) and was removed by the virus scan."
)


def removed_part_text(virus: str, file_name: str) -> str:
    """What stands in the cleaned original where an infected part was."""
    if file_name:
        return in_both_languages(REMOVED_PART, name=file_name, virus=virus)
    return in_both_languages(REMOVED_UNNAMED_PART, virus=virus)


def compose_virus_report(
    settings: Settings, address: str, details: dict[str, str], original: bytes
) -> Message:
    """The report to ``address`` of the mail ``details`` describes (the outbox row's
    details), ``original`` its cleaned copy."""
    received_at = datetime.fromisoformat(details["received_at"])

    def write(language: Language) -> tuple[str, str]:
        subject = language.gettext("Virus found: %(virus)s", virus=details["virus"])
        body = language.render(
            "virus_report.txt", address=address, details=details, received_at=received_at
        )
        return subject, body

    return system_mail(settings, address, bilingual(write), "virus", original)
