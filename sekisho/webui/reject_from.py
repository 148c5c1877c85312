"""受信拒否設定: the selection screen and the From (sender address) list with its add flow.

一覧参照 → 「設定」 → textarea → 「次へ」 → 確認 → 「登録」 → 完了. Every POST redirects; the
confirm form carries a one-time token so a second 「登録」 (back button, double click)
saves nothing twice.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import Blueprint, redirect, render_template, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from sekisho.rules.validate import check_address_entries
from sekisho.store.accounts import require_account
from sekisho.store.reject_lists import add_reject_from, reject_from_values
from sekisho.webui.context import store
from sekisho.webui.forms import ConfirmEntriesForm, EntriesForm

blueprint = Blueprint("reject", __name__, url_prefix="/reject")
_PENDING_KEY = "reject_from_pending"


@blueprint.route("/")
@login_required  # type: ignore[untyped-decorator]
def select() -> str:
    return render_template("reject/select.html")


@blueprint.route("/from")
@login_required  # type: ignore[untyped-decorator]
def from_list() -> str:
    with store().read() as db:
        entries = reject_from_values(db, require_account(db, current_user.address).id)
    return render_template("reject/from_list.html", entries=entries)


def _check(text: str) -> tuple[list[str], list[str], list[str]]:
    with store().read() as db:
        existing = reject_from_values(db, require_account(db, current_user.address).id)
    check = check_address_entries(text, existing)
    return (
        list(check.entries),
        [p.render(gettext) for p in check.problems],
        [w.render(gettext) for w in check.warnings],
    )


@blueprint.route("/from/new", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def from_form() -> str:
    form = EntriesForm()
    if form.validate_on_submit():
        entries, problems, warnings = _check(form.entries.data or "")
        if not problems:
            token = secrets.token_urlsafe(16)
            session[_PENDING_KEY] = {"token": token, "digest": _digest(entries)}
            confirm = ConfirmEntriesForm(entries="\n".join(entries), token=token)
            return render_template(
                "reject/from_confirm.html", form=confirm, entries=entries, warnings=warnings
            )
        return render_template("reject/from_form.html", form=form, problems=problems)
    return render_template("reject/from_form.html", form=form, problems=[])


@blueprint.route("/from/confirm", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def from_register() -> str | Response:
    form = ConfirmEntriesForm()
    pending = session.get(_PENDING_KEY) or {}
    if not form.validate_on_submit() or form.token.data != pending.get("token"):
        # Already registered (a second click, the back button): nothing to do twice.
        return redirect(url_for("reject.from_list"))
    entries, problems, _ = _check(form.entries.data or "")
    if not problems and _digest(entries) != pending.get("digest"):
        # Only what the confirmation screen showed may be registered.
        return redirect(url_for("reject.from_form"))
    if problems:
        return render_template(
            "reject/from_form.html", form=EntriesForm(entries=form.entries.data), problems=problems
        )
    with store().transaction() as db:
        add_reject_from(db, require_account(db, current_user.address).id, entries)
    session.pop(_PENDING_KEY, None)
    return redirect(url_for("reject.from_done", count=len(entries)))


def _digest(entries: list[str]) -> str:
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


@blueprint.route("/from/done")
@login_required  # type: ignore[untyped-decorator]
def from_done() -> str:
    return render_template("reject/from_done.html")
