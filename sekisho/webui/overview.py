"""「メールアカウント情報参照」: the account overview with the state of each setting."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from sekisho.store.accounts import require_account
from sekisho.store.quarantine import quarantined_for
from sekisho.store.reject_lists import reject_from_values
from sekisho.webui.context import store

blueprint = Blueprint("overview", __name__)


@blueprint.route("/")
@login_required  # type: ignore[untyped-decorator]
def show() -> str:
    with store().read() as db:
        account = require_account(db, current_user.address)
        return render_template(
            "overview.html",
            account=account,
            domain=account.domain,
            reject_from_count=len(reject_from_values(db, account.id)),
            quarantine_count=len(quarantined_for(db, account.id)),
        )
