"""迷惑メールスキャン設定, the guide's flow: 参照 → 「設定」 → ご利用確認 (the scan is not 100 %
accurate) → 「了解」 → the switches → 「次へ」 → 確認 → 「登録」 → 完了.

隔離メール通知 sends the owner a notice (sekisho worker) for each copy the spam scan
quarantines, or a digest of them (the operator's notice_digest_minutes).
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, redirect, render_template, session, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sekisho.rules.model import SpamSetting
from sekisho.store.audit import ChangeDetail
from sekisho.store.spam_settings import set_spam_setting, spam_setting
from sekisho.webui.access import login_required
from sekisho.webui.context import store
from sekisho.webui.flows import Pending, change, current_account_id, stale, switched
from sekisho.webui.forms import SpamSettingForm, TokenForm

blueprint = Blueprint("spam", __name__, url_prefix="/spam")
_register = Pending("spam", "register")
_TERMS_SEEN = "spam:terms_seen"


def _current() -> SpamSetting:
    account_id = current_account_id()
    with store().read() as db:
        return spam_setting(db, account_id)


@blueprint.route("/")
@login_required
def show() -> str:
    return render_template("spam/show.html", setting=_current())


@blueprint.route("/terms", methods=["GET", "POST"])
@login_required
def terms() -> str | Response:
    form = TokenForm()
    if form.validate_on_submit():  # 「了解」
        session[_TERMS_SEEN] = True
        return redirect(url_for("spam.edit"))
    return render_template("spam/terms.html", form=form)


@blueprint.route("/new", methods=["GET", "POST"])
@login_required
def edit() -> str | Response:
    if not session.get(_TERMS_SEEN):
        return redirect(url_for("spam.terms"))
    form = SpamSettingForm()
    if form.validate_on_submit():  # 「次へ」
        chosen = form.chosen()
        token = _register.issue(
            enabled=chosen.enabled, quarantine=chosen.quarantine, notify=chosen.notify
        )
        return render_template(
            "spam/confirm.html", chosen=chosen, form=TokenForm(formdata=None, token=token)
        )
    if not form.is_submitted():
        current = _current()
        form = SpamSettingForm(
            formdata=None,
            enabled="on" if current.enabled else "off",
            quarantine="on" if current.quarantine else "off",
            notify="on" if current.notify else "off",
        )
    return render_template("spam/form.html", form=form)


@blueprint.route("/confirm", methods=["POST"])
@login_required
def register() -> Response:
    pending = _register.take(TokenForm())
    if pending is None:
        return stale(url_for("spam.show"))
    chosen = SpamSetting(
        enabled=pending["enabled"], quarantine=pending["quarantine"], notify=pending["notify"]
    )

    def register_chosen(db: Session, account_id: int) -> ChangeDetail:
        set_spam_setting(db, account_id, chosen)
        return switched(**asdict(chosen))

    change(register_chosen)
    session.pop(_TERMS_SEEN, None)
    return redirect(url_for("spam.done"))


@blueprint.route("/done")
@login_required
def done() -> str:
    return render_template("spam/done.html")
