"""迷惑メールフォルダ: the quarantined copies with why each was caught and when it expires.

Read-only in this version; release and delete come with the quarantine lifecycle.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext
from flask_login import current_user, login_required

from sekisho.rules import reject_from, reject_header, reject_subject
from sekisho.rules.model import HeaderCheck
from sekisho.store.accounts import require_account
from sekisho.store.models import QuarantinedMessage
from sekisho.store.quarantine import quarantined_for
from sekisho.webui.context import store
from sekisho.webui.reject import HEADER_CHECK_TEXTS

blueprint = Blueprint("quarantine", __name__, url_prefix="/quarantine")


@blueprint.route("/")
@login_required  # type: ignore[untyped-decorator]
def show() -> str:
    with store().read() as db:
        messages = quarantined_for(db, require_account(db, current_user.address).id)
    reasons = {message.id: reason_text(message) for message in messages}
    return render_template("quarantine.html", messages=messages, reasons=reasons)


def reason_text(message: QuarantinedMessage) -> str:
    """Why a copy was caught, in the reader's language: the rule and the entry that hit."""
    if message.rule == reject_from.name:
        return str(gettext("From reject list: “%(entry)s”", entry=message.entry))
    if message.rule == reject_subject.name:
        return str(gettext("Subject reject list: “%(entry)s”", entry=message.entry))
    if message.rule == reject_header.name and message.entry in set(HeaderCheck):
        label, _ = HEADER_CHECK_TEXTS[HeaderCheck(message.entry)]
        return str(gettext("Header reject setting: %(label)s", label=label))
    return message.rule
