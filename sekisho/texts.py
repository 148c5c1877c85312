"""User-facing text outside a browser request (the milter), from the web UI's catalogs.

Mail sekisho writes into a mailbox owner's mail is bilingual, Japanese first: outside a
browser the owner's language is not known.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

CATALOGS = Path(__file__).resolve().parent / "webui" / "translations"
LANGUAGES = ("ja", "en")


@cache
def _catalog(language: str) -> NullTranslations:
    return Translations.load(str(CATALOGS), [language])


def in_both_languages(msgid: str, **values: str) -> str:
    """``msgid`` (a ``%(name)s`` template marked with N_) in Japanese, then in English."""
    return "\n".join(_catalog(language).gettext(msgid) % values for language in LANGUAGES)
