"""転送設定, the guide's flow: 転送設定一覧参照 → 「設定」 → 転送設定 (転送先メールアドレス,
残す/残さない) → 「次へ」 → 転送設定確認 → 「登録」 → 転送設定完了; and deleting a target
from the list (削除確認 → 「了解」). Each address is checked as sekisho.rules.forwarding says.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sekisho.rules.addresses import normalize_address
from sekisho.rules.forwarding import MAX_TARGETS, check_target
from sekisho.store.audit import ChangeDetail, ChangeKind
from sekisho.store.forwarding import add_target, delete_target, targets
from sekisho.store.models import ForwardingTarget
from sekisho.webui.access import login_required
from sekisho.webui.context import store
from sekisho.webui.flows import Pending, change, current_account_id, stale
from sekisho.webui.forms import ForwardForm, TokenForm

blueprint = Blueprint("forward", __name__, url_prefix="/forward")
_register = Pending("forward", "register")
_delete = Pending("forward", "delete")


def _targets() -> list[ForwardingTarget]:
    account_id = current_account_id()
    with store().read() as db:
        return targets(db, account_id)


@blueprint.route("/")
@login_required
def show() -> str:
    return render_template("forward/list.html", targets=_targets(), maximum=MAX_TARGETS)


@blueprint.route("/new", methods=["GET", "POST"])
@login_required
def new() -> str:
    form = ForwardForm()
    errors: list[str] = []
    if form.validate_on_submit():  # 「次へ」
        address = (form.address.data or "").strip()
        existing = [target.address for target in _targets()]
        problems = check_target(address, current_user.address, existing)
        if not problems:
            keep = form.keep.data == "keep"
            token = _register.issue(address=normalize_address(address), keep=keep)
            return render_template(
                "forward/confirm.html",
                address=normalize_address(address),
                keep=keep,
                form=TokenForm(formdata=None, token=token),
            )
        errors = [problem.render(gettext) for problem in problems]
    return render_template("forward/form.html", form=form, errors=errors)


@blueprint.route("/confirm", methods=["POST"])
@login_required
def register() -> Response:
    pending = _register.take(TokenForm())
    if pending is None:
        return stale(url_for("forward.show"))
    existing = [target.address for target in _targets()]
    if check_target(pending["address"], current_user.address, existing):
        return stale(url_for("forward.show"))  # another tab added it, or the list filled up

    def add(db: Session, account_id: int) -> ChangeDetail:
        add_target(db, account_id, pending["address"], pending["keep"])
        return ChangeDetail(ChangeKind.ADDED, (pending["address"],))

    change(add)
    return redirect(url_for("forward.done"))


@blueprint.route("/done")
@login_required
def done() -> str:
    return render_template("forward/done.html")


def _one(target_id: int) -> ForwardingTarget:
    found = next((target for target in _targets() if target.id == target_id), None)
    if found is None:
        abort(404)
    return found


@blueprint.route("/<int:target_id>/delete")
@login_required
def delete_confirm(target_id: int) -> str:
    target = _one(target_id)
    token = _delete.issue(target_id=target_id)
    return render_template(
        "forward/delete_confirm.html", target=target, form=TokenForm(formdata=None, token=token)
    )


@blueprint.route("/<int:target_id>/delete", methods=["POST"])
@login_required
def delete(target_id: int) -> Response:
    pending = _delete.take(TokenForm())
    if pending is None or pending["target_id"] != target_id:
        return stale(url_for("forward.show"))

    def remove(db: Session, account_id: int) -> ChangeDetail:
        gone = tuple(target.address for target in targets(db, account_id) if target.id == target_id)
        delete_target(db, account_id, target_id)
        return ChangeDetail(ChangeKind.REMOVED, gone)

    change(remove)
    flash(gettext("The forwarding address was deleted."))
    return redirect(url_for("forward.show"))
