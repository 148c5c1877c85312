"""User-facing text outside a browser request (the milter, the worker's mails), from the
web UI's catalogs, without Flask.

Mail sekisho writes into a mailbox owner's mail is bilingual, Japanese first: outside a
browser the owner's language is not known.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Protocol

from babel.support import NullTranslations, Translations

CATALOGS = Path(__file__).resolve().parent / "webui" / "translations"
LANGUAGES = ("ja", "en")
# The owners are in Japan: every time shown to them, on a page or in a mail, is Japan time.
TIMEZONE = "Asia/Tokyo"


class Gettext(Protocol):
    """Flask-Babel's ``gettext`` in a request, or ``gettext_in(language)`` outside one."""

    def __call__(self, msgid: str, /, **values: object) -> str: ...


@cache
def catalog(language: str) -> NullTranslations:
    return Translations.load(str(CATALOGS), [language])


def gettext_in(language: str) -> Gettext:
    """``gettext`` of ``language``, formatting as Flask-Babel's does (only given values)."""

    def gettext(msgid: str, /, **values: object) -> str:
        text = catalog(language).gettext(msgid)
        return text % values if values else text

    return gettext


def in_both_languages(msgid: str, **values: str) -> str:
    """``msgid`` (a ``%(name)s`` template marked with N_) in Japanese, then in English."""
    return "\n".join(gettext_in(language)(msgid, **values) for language in LANGUAGES)
