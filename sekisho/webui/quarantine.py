"""迷惑メールフォルダ: the quarantined copies, why each was caught and until when; a safe
text view; 「受信箱へ戻す」 (release), delete and 「全て削除」, each behind a confirmation
screen whose 「了解」 posts: a link alone never changes anything.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from werkzeug.wrappers import Response

from sekisho.reasons import reason_text
from sekisho.spamfolder import Outcome, delete_all
from sekisho.store.models import QuarantinedMessage
from sekisho.store.quarantine import (
    quarantine_count_and_last_id,
    quarantine_page,
    quarantined_one,
)
from sekisho.webui.access import login_required
from sekisho.webui.context import spam_folder, store
from sekisho.webui.flows import Pending, current_account_id, stale
from sekisho.webui.forms import TokenForm

blueprint = Blueprint("quarantine", __name__, url_prefix="/quarantine")
_release = Pending("quarantine", "release")
_delete = Pending("quarantine", "delete")
_purge = Pending("quarantine", "purge")


@blueprint.route("/")
@login_required
def show() -> str:
    account_id = current_account_id()
    with store().read() as db:
        page = quarantine_page(db, account_id, request.args.get("page", 1, type=int))
    reasons = {message.id: reason_text(message, gettext) for message in page.entries}
    return render_template("quarantine/list.html", page=page, reasons=reasons)


def _one(record_id: int) -> QuarantinedMessage:
    account_id = current_account_id()
    with store().read() as db:
        record = quarantined_one(db, account_id, record_id)
    if record is None:
        abort(404)
    return record


@blueprint.route("/<int:record_id>")
@login_required
def view(record_id: int) -> str:
    record = _one(record_id)
    shown = spam_folder().view(current_account_id(), record_id)
    return render_template(
        "quarantine/view.html", record=record, reason=reason_text(record, gettext), shown=shown
    )


def _confirm(pending: Pending, record_id: int, title: str, question: str, step: str) -> str:
    """The confirmation screen of one copy; its 「了解」 posts to ``step``."""
    record = _one(record_id)
    token = pending.issue(record_id=record_id)
    return render_template(
        "quarantine/confirm.html",
        title=title,
        question=question,
        record=record,
        action=url_for(step, record_id=record_id),
        form=TokenForm(formdata=None, token=token),
    )


def _confirmed(pending: Pending, record_id: int) -> bool:
    taken = pending.take(TokenForm())
    return taken is not None and taken["record_id"] == record_id


@blueprint.route("/<int:record_id>/release")
@login_required
def release_confirm(record_id: int) -> str:
    return _confirm(
        _release,
        record_id,
        gettext("Move back to the inbox: confirmation"),
        gettext("This mail will be moved back to your inbox. Press OK to move it."),
        "quarantine.release",
    )


@blueprint.route("/<int:record_id>/release", methods=["POST"])
@login_required
def release(record_id: int) -> Response:
    if not _confirmed(_release, record_id):
        return stale(url_for("quarantine.show"))
    outcome = spam_folder().release(current_account_id(), record_id)
    flash(RELEASE_ANSWERS[outcome]())
    return redirect(url_for("quarantine.show"))


@blueprint.route("/<int:record_id>/delete")
@login_required
def delete_confirm(record_id: int) -> str:
    return _confirm(
        _delete,
        record_id,
        gettext("Delete confirmation"),
        gettext("This mail will be deleted and cannot be restored. Press OK to delete."),
        "quarantine.delete",
    )


@blueprint.route("/<int:record_id>/delete", methods=["POST"])
@login_required
def delete(record_id: int) -> Response:
    if not _confirmed(_delete, record_id):
        return stale(url_for("quarantine.show"))
    spam_folder().delete(current_account_id(), record_id)
    flash(gettext("The mail was deleted."))
    return redirect(url_for("quarantine.show"))


@blueprint.route("/purge")
@login_required
def purge_confirm() -> str | Response:
    account_id = current_account_id()
    with store().read() as db:
        count, last_id = quarantine_count_and_last_id(db, account_id)
    if not count:
        return redirect(url_for("quarantine.show"))
    token = _purge.issue(last_id=last_id)
    return render_template(
        "quarantine/confirm.html",
        title=gettext("Delete all confirmation"),
        question=ngettext(
            "The %(num)d mail of the spam folder will be deleted and cannot be restored. "
            "Press OK to delete it.",
            "All %(num)d mails of the spam folder will be deleted and cannot be restored. "
            "Press OK to delete them.",
            count,
        ),
        record=None,
        action=url_for("quarantine.purge"),
        form=TokenForm(formdata=None, token=token),
    )


@blueprint.route("/purge", methods=["POST"])
@login_required
def purge() -> Response:
    pending = _purge.take(TokenForm())
    if pending is None:
        return stale(url_for("quarantine.show"))
    count = delete_all(spam_folder(), store(), current_account_id(), pending["last_id"])
    flash(ngettext("%(num)d mail was deleted.", "%(num)d mails were deleted.", count))
    return redirect(url_for("quarantine.show"))


RELEASE_ANSWERS = {
    Outcome.DONE: lambda: gettext("The mail was moved back to your inbox."),
    Outcome.ALREADY: lambda: gettext("The mail had already been moved back to your inbox."),
    Outcome.GONE: lambda: gettext(
        "The mail is no longer in the spam folder: your mail program moved or deleted it."
    ),
    Outcome.UNKNOWN: lambda: gettext("That mail is not in your spam folder."),
}
