"""The release link of a quarantine notice: opens a confirmation page whose button posts.

The link carries a signed token naming one copy of one mailbox
(sekisho.mails.release_links); it is all the authority the page needs, so the owner need
not log in — and it can release that one copy and nothing else. Opening the link changes
nothing: mail scanners and link previews fetch links, only a person presses the button.
The token expires with the copy (quarantine_days, plus a day's grace for the digest's
delay); a copy already released or deleted is said to be so.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_babel import gettext

from sekisho.mails.release_links import RELEASE_PATH, ReleaseTarget, read_release_token
from sekisho.quarantine_folder import Outcome
from sekisho.reasons import reason_text
from sekisho.store.models import QuarantinedMessage
from sekisho.store.quarantine import quarantined_one
from sekisho.webui.context import quarantine_folder, settings, store
from sekisho.webui.forms import TokenForm
from sekisho.webui.quarantine import RELEASE_ANSWERS

blueprint = Blueprint("release_link", __name__, url_prefix=RELEASE_PATH)
GRACE_DAYS = 1


def _record(target: ReleaseTarget) -> QuarantinedMessage | None:
    with store().read() as db:
        record = quarantined_one(db, target.account_id, target.record_id)
    if record is None or record.message_key != target.message_key:
        return None
    return record


def _target(token: str) -> ReleaseTarget | None:
    return read_release_token(
        current_app.config["SECRET_KEY"], token, settings().quarantine_days + GRACE_DAYS
    )


def _answer(message: str, status: int = 200) -> tuple[str, int]:
    return render_template("release/answer.html", message=message), status


@blueprint.route("/<token>")
def confirm(token: str) -> str | tuple[str, int]:
    target = _target(token)
    if target is None:
        return _answer(_invalid_link(), 404)
    record = _record(target)
    if record is None:
        return _answer(RELEASE_ANSWERS[Outcome.UNKNOWN](), 404)
    if record.released_at is not None:
        return _answer(RELEASE_ANSWERS[Outcome.ALREADY]())
    return _confirmation(record, TokenForm(formdata=None, token=token))


def _confirmation(record: QuarantinedMessage, form: TokenForm) -> str:
    return render_template(
        "release/confirm.html", record=record, reason=reason_text(record, gettext), form=form
    )


@blueprint.route("/<token>", methods=["POST"])
def release(token: str) -> str | tuple[str, int]:
    form = TokenForm()
    target = _target(token)
    if target is None or not form.validate_on_submit() or form.token.data != token:
        return _answer(_invalid_link(), 404)
    if _record(target) is None:
        return _answer(RELEASE_ANSWERS[Outcome.UNKNOWN](), 404)
    outcome = quarantine_folder().release(target.account_id, target.record_id)
    return _answer(RELEASE_ANSWERS[outcome]())


def _invalid_link() -> str:
    return str(
        gettext(
            "This link is not valid or has expired. Log in to see your spam folder: mail is "
            "kept there until the date shown."
        )
    )
