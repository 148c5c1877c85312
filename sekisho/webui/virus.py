"""ウィルススキャン設定, the guide's flow: 「ウィルススキャン設定」 on the overview →
ウィルススキャン設定確認 (無効（OFF）→ 有効（ON）, or the reverse) → 「了解」 → 完了.

The confirmation carries the state it shows in its one-time token: a second 「了解」 (a
double click, the back button) changes nothing instead of switching back.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sekisho.store.audit import ChangeDetail
from sekisho.store.virus_settings import set_virus_scan, virus_scan_enabled
from sekisho.webui.access import login_required
from sekisho.webui.context import store
from sekisho.webui.flows import Pending, change, current_account_id, stale, switched
from sekisho.webui.forms import TokenForm

blueprint = Blueprint("virus", __name__, url_prefix="/virus")
_switch = Pending("virus", "switch")


def _enabled() -> bool:
    account_id = current_account_id()
    with store().read() as db:
        return virus_scan_enabled(db, account_id)


@blueprint.route("/")
@login_required
def confirm() -> str:
    current = _enabled()
    token = _switch.issue(enabled=not current)
    return render_template(
        "virus/confirm.html",
        current=current,
        form=TokenForm(formdata=None, token=token),
    )


@blueprint.route("/", methods=["POST"])
@login_required
def switch() -> Response:
    pending = _switch.take(TokenForm())
    if pending is None:
        return stale(url_for("overview.show"))
    enabled = bool(pending["enabled"])

    def switch_to(db: Session, account_id: int) -> ChangeDetail:
        set_virus_scan(db, account_id, enabled)
        return switched(enabled=enabled)

    change(switch_to)
    return redirect(url_for("virus.done"))


@blueprint.route("/done")
@login_required
def done() -> str:
    return render_template("virus/done.html", enabled=_enabled())
