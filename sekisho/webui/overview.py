"""「メールアカウント情報参照」: the account overview with the state of each setting."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from sekisho.rules.lists import ALLOW_FROM, REJECT_FROM, REJECT_SUBJECT
from sekisho.store.abroad import lifted_until
from sekisho.store.accounts import require_account
from sekisho.store.auto_reply import auto_reply
from sekisho.store.forwarding import targets
from sekisho.store.header_rules import header_checks
from sekisho.store.lists import count_and_last_id
from sekisho.store.models import utcnow
from sekisho.store.quarantine import quarantine_count_and_last_id
from sekisho.store.spam_settings import spam_setting
from sekisho.store.virus_settings import virus_scan_enabled
from sekisho.webui.access import login_required
from sekisho.webui.context import store

blueprint = Blueprint("overview", __name__)


@blueprint.route("/")
@login_required
def show() -> str:
    with store().read() as db:
        account = require_account(db, current_user.address)
        return render_template(
            "overview.html",
            account=account,
            domain=account.domain,
            reject_from_count=count_and_last_id(db, account.id, REJECT_FROM)[0],
            reject_subject_count=count_and_last_id(db, account.id, REJECT_SUBJECT)[0],
            header_check_count=len(header_checks(db, account.id)),
            allow_count=count_and_last_id(db, account.id, ALLOW_FROM)[0],
            quarantine_count=quarantine_count_and_last_id(db, account.id)[0],
            spam=spam_setting(db, account.id),
            virus_scan=virus_scan_enabled(db, account.id),
            forward_count=len(targets(db, account.id)),
            auto_reply=auto_reply(db, account.id),
            abroad_until=lifted_until(db, account.id, utcnow()),
        )
