"""迷惑メールフォルダ: the quarantined copies with why each was caught and when it expires.

Read-only in this version; release and delete come with the quarantine lifecycle.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from sekisho.store.accounts import require_account
from sekisho.store.quarantine import quarantined_for
from sekisho.webui.context import store

blueprint = Blueprint("quarantine", __name__, url_prefix="/quarantine")


@blueprint.route("/")
@login_required  # type: ignore[untyped-decorator]
def show() -> str:
    with store().read() as db:
        messages = quarantined_for(db, require_account(db, current_user.address).id)
    return render_template("quarantine.html", messages=messages)
