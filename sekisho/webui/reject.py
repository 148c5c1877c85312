"""受信拒否設定: the selection screen and the header reject settings (ヘッダー受信拒否設定).

Header flow as the guide: 一覧参照 → 「設定」 → checkboxes → 「次へ」 → 確認 → 「登録」 → 完了;
unchecking a box removes that setting. The From and Subject lists live in webui.lists.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sekisho.reasons import HEADER_CHECK_LABELS
from sekisho.rules.model import HeaderCheck
from sekisho.store.accounts import require_account
from sekisho.store.audit import ChangeDetail
from sekisho.store.header_rules import header_records, set_header_checks
from sekisho.webui.access import login_required
from sekisho.webui.context import store
from sekisho.webui.flows import Pending, change, switched
from sekisho.webui.forms import HeaderChecksForm, TokenForm

blueprint = Blueprint("reject", __name__, url_prefix="/reject")
_pending = Pending("reject_header", "set")

# What each checkbox catches, in the guide's words; its label is sekisho.reasons'.
_CATCHES = {
    HeaderCheck.FROM_MISSING: _l(
        "Rejects mail that has no From header, which every normal mail has."
    ),
    HeaderCheck.FROM_EMPTY_ANGLE: _l("Rejects mail whose From header holds no sender address."),
    HeaderCheck.FROM_EMPTY: _l("Same as above."),
    HeaderCheck.SUBJECT_MISSING: _l(
        "Rejects mail that has no Subject header, which every normal mail has."
    ),
    HeaderCheck.SUBJECT_EMPTY: _l("Rejects mail whose subject is empty."),
}
# (label, what it catches) of each checkbox.
HEADER_CHECK_TEXTS = {
    check: (_l(label), _CATCHES[check]) for check, label in HEADER_CHECK_LABELS.items()
}


@blueprint.route("/")
@login_required
def select() -> str:
    return render_template("reject/select.html")


@blueprint.route("/header/")
@login_required
def header_show() -> str:
    with store().read() as db:
        records = header_records(db, require_account(db, current_user.address).id)
        return render_template("reject/header_list.html", texts=HEADER_CHECK_TEXTS, records=records)


@blueprint.route("/header/new", methods=["GET", "POST"])
@login_required
def header_form() -> str:
    form = HeaderChecksForm()
    if form.validate_on_submit():
        chosen = form.chosen()
        token = _pending.issue(checks=sorted(chosen))
        return render_template(
            "reject/header_confirm.html",
            texts=HEADER_CHECK_TEXTS,
            chosen=chosen,
            form=TokenForm(formdata=None, token=token),
        )
    if not form.is_submitted():
        with store().read() as db:
            current = header_records(db, require_account(db, current_user.address).id)
        form = HeaderChecksForm(formdata=None, **_as_fields(set(current)))
    return render_template("reject/header_form.html", texts=HEADER_CHECK_TEXTS, form=form)


@blueprint.route("/header/confirm", methods=["POST"])
@login_required
def header_register() -> Response:
    pending = _pending.take(TokenForm())
    if pending is None:
        return redirect(url_for("reject.header_show"))
    chosen = {HeaderCheck(value) for value in pending["checks"]}

    def register_chosen(db: Session, account_id: int) -> ChangeDetail:
        set_header_checks(db, account_id, chosen)
        return switched(**_as_fields(chosen))

    change(register_chosen)
    return redirect(url_for("reject.header_done"))


@blueprint.route("/header/done")
@login_required
def header_done() -> str:
    return render_template("reject/header_done.html")


def _as_fields(checks: set[HeaderCheck]) -> dict[str, bool]:
    return {check.value: check in checks for check in HeaderCheck}
