"""Why a copy was quarantined, as its owner reads it: the rule and the entry that hit.

The spam folder pages say it in the reader's language, the quarantine notice in each of
its languages, so the words come with the ``gettext`` of the language wanted.
"""

from __future__ import annotations

from typing import Protocol

from sekisho.rules import allow_from, reject_from, reject_header, reject_subject, spam, virus
from sekisho.rules.model import HeaderCheck
from sekisho.rules.problems import N_
from sekisho.texts import Gettext

# The label of each header reject setting, as its checkbox shows it (webui.reject).
HEADER_CHECK_LABELS = {
    HeaderCheck.FROM_MISSING: N_("From: the header itself is missing"),
    HeaderCheck.FROM_EMPTY_ANGLE: N_("From: the header is empty (From: <>)"),
    HeaderCheck.FROM_EMPTY: N_("From: the header is empty (From:)"),
    HeaderCheck.SUBJECT_MISSING: N_("Subject: the header itself is missing"),
    HeaderCheck.SUBJECT_EMPTY: N_("Subject: the header is empty (Subject:)"),
}


class Reasoned(Protocol):
    """A quarantined copy or a 受信ログ row: the rule that decided and its entry."""

    @property
    def rule(self) -> str: ...

    @property
    def entry(self) -> str: ...

    @property
    def matched(self) -> str: ...


def reason_text(message: Reasoned, gettext: Gettext) -> str:
    if message.rule == reject_from.name:
        return gettext("From reject list: “%(entry)s”", entry=message.entry)
    if message.rule == reject_subject.name:
        return gettext("Subject reject list: “%(entry)s”", entry=message.entry)
    if message.rule == spam.name:
        return gettext(
            "Spam scan: score %(score)s (%(engine)s)", score=message.entry, engine=message.matched
        )
    if message.rule == reject_header.name and message.entry in set(HeaderCheck):
        label = gettext(HEADER_CHECK_LABELS[HeaderCheck(message.entry)])
        return gettext("Header reject setting: %(label)s", label=label)
    if message.rule == allow_from.name:
        return gettext("Allow list: “%(entry)s”", entry=message.entry)
    if message.rule == allow_from.unverified_name:
        return gettext(
            "Matched the allow list entry “%(entry)s”, but the sender is not authenticated, "
            "so it was not applied",
            entry=message.entry,
        )
    if message.rule == virus.name:
        return gettext("Virus: %(virus)s", virus=message.entry)
    return message.rule
