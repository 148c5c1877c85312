"""迷惑メールフォルダ: the quarantined copies, why each was caught and until when; a safe
text view and 「ヘッダーとソースを表示」; 「受信箱へ戻す」 (release),
「受信箱へ戻して送信者を許可」, delete and 「全て削除」, each behind a confirmation screen
whose 「了解」 posts: a link alone never changes anything.

「受信箱へ戻して送信者を許可」 adds the copy's header From address (the address the allow
list matches), or its envelope sender when it has none, with the allow list screen's own
checks. When the address cannot be added, nothing is released either: the confirmation
screen shows the list's message and offers the plain release instead, so the owner is
never left with half of what they asked for without being told. An address the list
allows already (a domain entry covers it) is no failure: the mail is released, nothing
is added, and the screen names the entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sekisho.mailsource import SOURCE_MAX_BYTES, header_fields, read_source
from sekisho.quarantine_folder import Outcome, delete_all
from sekisho.reasons import reason_text
from sekisho.rules.addresses import normalize_address
from sekisho.rules.lists import ALLOW_FROM
from sekisho.rules.model import Message
from sekisho.rules.validate import ListEntry
from sekisho.store import lists
from sekisho.store.audit import ChangeDetail, ChangeKind
from sekisho.store.models import QuarantinedMessage
from sekisho.store.policies import load_policy
from sekisho.store.quarantine import (
    quarantine_count_and_last_id,
    quarantine_page,
    quarantined_one,
)
from sekisho.webui.access import login_required
from sekisho.webui.context import quarantine_folder, store
from sekisho.webui.flows import Pending, change, current_account_id, stale
from sekisho.webui.forms import TokenForm

blueprint = Blueprint("quarantine", __name__, url_prefix="/quarantine")
_release = Pending("quarantine", "release")
_delete = Pending("quarantine", "delete")
_purge = Pending("quarantine", "purge")
_release_allow = Pending("quarantine", "release_allow")


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
    shown = quarantine_folder().view(current_account_id(), record_id)
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
    outcome = quarantine_folder().release(current_account_id(), record_id)
    flash(RELEASE_ANSWERS[outcome]())
    return redirect(url_for("quarantine.show"))


@blueprint.route("/<int:record_id>/source")
@login_required
def source(record_id: int) -> str:
    """The copy as received, as escaped text: nothing in it is opened or fetched."""
    record = _one(record_id)
    path = quarantine_folder().copy_path(current_account_id(), record_id)
    return render_template(
        "quarantine/source.html",
        record=record,
        source=read_source(path) if path is not None else None,
        max_kb=SOURCE_MAX_BYTES // 1024,
    )


@dataclass(frozen=True)
class _Allowing:
    """The sender 「受信箱へ戻して送信者を許可」 would add, and whether it can be."""

    sender: str
    from_header: bool  # the header From address, not the envelope sender
    allowed_by: str | None  # the entry of the allow list that matches it already
    entries: tuple[ListEntry, ...]  # what to add: none when allowed already or refused
    problems: tuple[str, ...]


def _allow(db: Session, account_id: int, entries: tuple[ListEntry, ...]) -> ChangeDetail:
    lists.add_entries(db, account_id, ALLOW_FROM, entries)
    return ChangeDetail(ChangeKind.ADDED, tuple(entry.value for entry in entries))


def _allowing(record: QuarantinedMessage) -> _Allowing | None:
    """None when the copy is no longer in the spam folder."""
    account_id = current_account_id()
    path = quarantine_folder().copy_path(account_id, record.id)
    if path is None:
        return None
    from_addresses = Message("", header_fields(path)).header_from_addresses
    sender = from_addresses[0] if from_addresses else normalize_address(record.sender)
    from_header = bool(from_addresses)
    if not sender:
        refused = gettext("This mail names no sender address, so there is nothing to allow.")
        return _Allowing(sender, from_header, None, (), (refused,))
    policy = load_policy(store(), current_user.address)
    # Matched as the milter matches (a domain entry covers the address), so no entry is
    # added that the list already implies.
    allowed_by = policy.allow_from.match(sender) if policy is not None else None
    if allowed_by is not None:
        return _Allowing(sender, from_header, allowed_by, (), ())
    # The allow list screen's own checks (sekisho.rules.validate through the list kind).
    checked = ALLOW_FROM.check_entries([sender])
    problems = tuple(problem.render(gettext) for problem in checked.problems)
    return _Allowing(sender, from_header, None, checked.entries, problems)


@blueprint.route("/<int:record_id>/release-allow")
@login_required
def release_allow_confirm(record_id: int) -> str | Response:
    record = _one(record_id)
    allowing = _allowing(record)
    if allowing is None or record.released_at is not None:
        outcome = Outcome.GONE if allowing is None else Outcome.ALREADY
        flash(RELEASE_ANSWERS[outcome]())
        return redirect(url_for("quarantine.view", record_id=record_id))
    token = _release_allow.issue(record_id=record_id, sender=allowing.sender)
    return render_template(
        "quarantine/allow_confirm.html",
        record=record,
        allowing=allowing,
        form=TokenForm(formdata=None, token=token),
    )


@blueprint.route("/<int:record_id>/release-allow", methods=["POST"])
@login_required
def release_allow(record_id: int) -> Response:
    taken = _release_allow.take(TokenForm())
    if taken is None or taken["record_id"] != record_id:
        return stale(url_for("quarantine.show"))
    allowing = _allowing(_one(record_id))
    if allowing is not None and allowing.sender != taken["sender"]:
        return stale(url_for("quarantine.show"))  # only the sender the screen showed
    if allowing is not None and allowing.problems:
        flash(gettext("Nothing was changed: %(problem)s", problem=allowing.problems[0]))
        return redirect(url_for("quarantine.view", record_id=record_id))
    outcome = quarantine_folder().release(current_account_id(), record_id)
    if allowing is None or outcome not in (Outcome.DONE, Outcome.ALREADY):
        flash(RELEASE_ANSWERS[outcome]())
        return redirect(url_for("quarantine.show"))
    flash(RELEASE_ANSWERS[outcome]())
    if allowing.allowed_by is not None:
        flash(
            gettext(
                "“%(sender)s” is allowed by the allow list entry “%(entry)s”.",
                sender=allowing.sender,
                entry=allowing.allowed_by,
            )
        )
    elif change(
        lambda db, account_id: _allow(db, account_id, allowing.entries), area=ALLOW_FROM.name
    ):
        flash(gettext("“%(sender)s” was added to the allow list.", sender=allowing.sender))
    else:  # the same address added at the same moment, by a second tab
        flash(gettext("“%(sender)s” is on the allow list.", sender=allowing.sender))
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
    quarantine_folder().delete(current_account_id(), record_id)
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
    count = delete_all(quarantine_folder(), store(), current_account_id(), pending["last_id"])
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
