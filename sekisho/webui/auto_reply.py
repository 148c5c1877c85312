"""自動返信設定, the guide's flow: 自動送信設定一覧参照 → 「設定」 → 自動返信設定 (有効（ON）,
the message, the optional dates and per-sender messages) → 「次へ」 → 自動返信設定確認 →
「登録」 → 自動返信設定完了. The setting is checked as sekisho.rules.auto_reply says.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import gettext
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sekisho.rules.auto_reply import (
    MAX_MESSAGE_CHARS,
    MAX_SENDER_TEXTS,
    AutoReply,
    SenderText,
    check_auto_reply,
    cleaned,
)
from sekisho.rules.problems import Problem
from sekisho.store.audit import ChangeDetail
from sekisho.store.auto_reply import auto_reply, set_auto_reply
from sekisho.webui.access import login_required
from sekisho.webui.context import store
from sekisho.webui.flows import Pending, change, current_account_id, stale, switched
from sekisho.webui.forms import AutoReplyForm, ConfirmSettingForm

# External names keep the older spelling "autoreply": the URL /autoreply/, the area that the
# 変更履歴 stores and logs for a change made here (settings_changes.area, "area=autoreply"),
# and the session key of a confirmation in flight; only the Python names say auto_reply.
AREA = "autoreply"
blueprint = Blueprint("auto_reply", __name__, url_prefix="/autoreply")
_register = Pending(AREA, "register")


def _current() -> AutoReply:
    account_id = current_account_id()
    with store().read() as db:
        return auto_reply(db, account_id)


@blueprint.route("/")
@login_required
def show() -> str:
    return render_template("auto_reply/list.html", setting=_current())


@blueprint.route("/edit", methods=["GET", "POST"])
@login_required
def edit() -> str:
    form = AutoReplyForm()
    if not form.is_submitted():
        return _form(AutoReplyForm.prefilled(_current()), [])
    valid = form.validate()  # 「次へ」; reads the dates
    entered = form.chosen()
    rows = [number for number, _ in form.filled_rows()]
    problems = [_on_screen(problem, rows) for problem in check_auto_reply(entered)]
    errors = form.date_errors() + [problem.render(gettext) for problem in problems]
    if not valid or errors:
        return _form(form, errors)
    setting = cleaned(entered)
    shown = _as_json(setting)
    token = _register.issue(digest=_digest(shown))
    return render_template(
        "auto_reply/confirm.html",
        setting=setting,
        form=ConfirmSettingForm(formdata=None, setting=shown, token=token),
    )


def _form(form: AutoReplyForm, errors: list[str]) -> str:
    return render_template(
        "auto_reply/form.html",
        form=form,
        errors=errors,
        max_chars=MAX_MESSAGE_CHARS,
        max_rows=MAX_SENDER_TEXTS,
    )


def _on_screen(problem: Problem, rows: list[int]) -> Problem:
    """A per-sender problem counts the rows filled in; the screen numbers every row,
    the blank ones between included."""
    return problem if problem.line is None else replace(problem, line=rows[problem.line - 1])


@blueprint.route("/confirm", methods=["POST"])
@login_required
def register() -> Response:
    form = ConfirmSettingForm()
    pending = _register.take(form)
    shown = form.setting.data or ""
    if pending is None or _digest(shown) != pending["digest"]:
        return stale(url_for("auto_reply.show"))  # only what the confirmation screen showed
    setting = _from_json(shown)

    def register_setting(db: Session, account_id: int) -> ChangeDetail:
        set_auto_reply(db, account_id, setting)
        return switched(enabled=setting.enabled)

    if not change(register_setting, area=AREA):
        return stale(url_for("auto_reply.show"))
    return redirect(url_for("auto_reply.done"))


@blueprint.route("/done")
@login_required
def done() -> str:
    return render_template("auto_reply/done.html")


def _digest(shown: str) -> str:
    return hashlib.sha256(shown.encode("utf-8")).hexdigest()


def _as_json(setting: AutoReply) -> str:
    """The setting as the confirmation screen carries it. JSON escapes line breaks (and
    here every non-ASCII character), so the browser posts back exactly these characters."""
    return json.dumps(
        {
            "enabled": setting.enabled,
            "message": setting.message,
            "per_sender": [[entry.pattern, entry.message] for entry in setting.per_sender],
            "starts_on": setting.starts_on.isoformat() if setting.starts_on else None,
            "ends_on": setting.ends_on.isoformat() if setting.ends_on else None,
        }
    )


def _from_json(shown: str) -> AutoReply:
    """The setting of ``_as_json`` (its digest matched: this is the text it wrote)."""
    data = json.loads(shown)
    return AutoReply(
        enabled=data["enabled"],
        message=data["message"],
        per_sender=tuple(SenderText(pattern, message) for pattern, message in data["per_sender"]),
        starts_on=_day(data["starts_on"]),
        ends_on=_day(data["ends_on"]),
    )


def _day(iso: str | None) -> date | None:
    return date.fromisoformat(iso) if iso else None
