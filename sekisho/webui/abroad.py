"""国外からのメール送信制限設定, the guide's flow: the overview's link → 確認 showing
制限中 → 解除 (or 解除中 → 制限) → 「了解」 → 完了. Lifting runs one week from the moment
of 「了解」; while lifted, the confirmation also offers to lift again (a new week from now),
as the guide says a second setting extends it. The week ends by itself: no job runs, the
milter compares the time.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, redirect, render_template, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sekisho.rules.abroad import unlock_ends
from sekisho.store.abroad import lifted_until, set_unlocked_until
from sekisho.store.audit import ChangeDetail, ChangeKind
from sekisho.store.models import utcnow
from sekisho.webui.access import login_required
from sekisho.webui.context import store
from sekisho.webui.flows import Pending, change, current_account_id, stale
from sekisho.webui.forms import TokenForm

blueprint = Blueprint("abroad", __name__, url_prefix="/abroad")
_switch = Pending("abroad", "switch")
UNLOCK, RESTRICT = "unlock", "restrict"


def current_unlock(now: datetime) -> datetime | None:
    """When the lifting ends, or None while restricted (an ended week is 制限中 again)."""
    account_id = current_account_id()
    with store().read() as db:
        return lifted_until(db, account_id, now)


@blueprint.route("/")
@login_required
def confirm() -> str:
    now = utcnow()
    until = current_unlock(now)
    token = _switch.issue()
    return render_template(
        "abroad/confirm.html",
        until=until,
        new_until=unlock_ends(now),
        form=TokenForm(formdata=None, token=token),
        UNLOCK=UNLOCK,
        RESTRICT=RESTRICT,
    )


@blueprint.route("/<action>", methods=["POST"])
@login_required
def switch(action: str) -> Response:
    if action not in (UNLOCK, RESTRICT) or _switch.take(TokenForm()) is None:
        return stale(url_for("overview.show"))
    until = unlock_ends(utcnow()) if action == UNLOCK else None

    def set_until(db: Session, account_id: int) -> ChangeDetail:
        set_unlocked_until(db, account_id, until)
        # The end of the lifting, or nothing: 制限中.
        return ChangeDetail(ChangeKind.SET, (until.isoformat(),) if until else ())

    change(set_until)
    return redirect(url_for("abroad.done"))


@blueprint.route("/done")
@login_required
def done() -> str:
    return render_template("abroad/done.html", until=current_unlock(utcnow()))
