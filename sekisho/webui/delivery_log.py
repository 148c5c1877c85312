"""受信ログ: what became of each mail to this mailbox in the last days, and why — the
answer to "a mail did not arrive": delivered, in the spam folder (linked), tagged,
forwarded, removed for a virus, answered."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext, lazy_gettext
from sqlalchemy.orm import Session

from sekisho.reasons import reason_text
from sekisho.store import delivery_log
from sekisho.store.models import DeliveryLogEntry
from sekisho.store.paging import Page
from sekisho.store.quarantine import quarantine_ids_by_key
from sekisho.webui.access import login_required
from sekisho.webui.context import settings, store
from sekisho.webui.flows import current_account_id

blueprint = Blueprint("delivery_log", __name__, url_prefix="/log")
OUTCOMES = {
    delivery_log.INBOX: lazy_gettext("Inbox"),
    delivery_log.QUARANTINE: lazy_gettext("Spam folder"),
    delivery_log.TAGGED: lazy_gettext("Inbox, tagged [spam]"),
    delivery_log.FORWARDED: lazy_gettext("Forwarded"),
    delivery_log.VIRUS: lazy_gettext("Removed: virus"),
}


@blueprint.route("/")
@login_required
def show() -> str:
    days = settings().delivery_log_days
    if not days:  # the operator keeps no log: the page says so instead of an empty table
        return render_template("delivery_log.html", days=days)
    query = request.args.get("q", "")[:200]
    with store().read() as db:
        page, quarantined = log_page(
            db, current_account_id(), query, request.args.get("page", 1, type=int)
        )
    reasons = {row.id: reason_text(row, gettext) if row.rule else "" for row in page.entries}
    return render_template(
        "delivery_log.html",
        page=page,
        query=query,
        reasons=reasons,
        quarantined=quarantined,
        outcomes=OUTCOMES,
        days=days,
    )


def log_page(
    db: Session, account_id: int, query: str, number: int
) -> tuple[Page[DeliveryLogEntry], dict[str, int]]:
    """What the page reads from the store (bench/delivery_log.py times it): one page of
    the mailbox's log, and the spam folder copies its quarantined rows link to."""
    page = delivery_log.delivery_page(db, account_id, query, number)
    keys = [row.message_key for row in page.entries if row.outcome == delivery_log.QUARANTINE]
    return page, quarantine_ids_by_key(db, account_id, keys) if keys else {}
