"""ルールのテスト (rule tester): paste a mail's header, or take a 受信ログ row, and see what
this mailbox's current settings do with it: which check decides, and each row of the
decision table with its hit or miss and the entry that matched.

The answer is the milter's own ``decide`` (through sekisho.rules.tester); this module only
reads the form and puts the answer into words. Nothing is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import gettext as babel_gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from sekisho.reasons import reason_text
from sekisho.rules import allow_from, reject_from, reject_header, reject_subject, spam, virus
from sekisho.rules.addresses import normalize_address
from sekisho.rules.auto_reply import japan_day
from sekisho.rules.model import Action, Decision, Message, Policy, RuleHit
from sekisho.rules.tester import (
    HEADER_MAX_BYTES,
    PastedHeader,
    RowState,
    Trial,
    TriedRow,
    envelope_sender,
    parse_header,
    try_message,
)
from sekisho.rules.validate import ENTRY_MAX_CHARS
from sekisho.store.delivery_log import delivery_entry, outcome_of
from sekisho.store.models import DeliveryLogEntry
from sekisho.store.policies import load_policy
from sekisho.texts import Gettext
from sekisho.webui.access import login_required
from sekisho.webui.context import store
from sekisho.webui.delivery_log import OUTCOMES
from sekisho.webui.flows import current_account_id
from sekisho.webui.forms import RuleTestForm

blueprint = Blueprint("tester", __name__, url_prefix="/rules")
# Flask-Babel ships no type hints: its gettext, typed as what it is.
gettext: Gettext = babel_gettext

# Each row of the decision table as its settings screen is named.
ROW_LABELS = {
    (virus.name, Action.REMOVE_VIRUS): _l("Virus scan settings"),
    (allow_from.name, Action.DELIVER): _l("Allow settings"),
    (reject_from.name, Action.QUARANTINE): _l("From (sender address) reject settings"),
    (reject_subject.name, Action.QUARANTINE): _l("Subject reject settings"),
    (reject_header.name, Action.QUARANTINE): _l("Header reject settings"),
    (spam.name, Action.QUARANTINE): _l("Spam scan settings (spam quarantine on)"),
    (spam.name, Action.TAG): _l("Spam scan settings (spam quarantine off: [spam] in the subject)"),
}
STATES = {
    RowState.HIT: _l("Match"),
    RowState.MISS: _l("No match"),
    RowState.SCAN: _l("Depends on the scan"),
    RowState.NOT_REACHED: _l("Not checked"),
}


@dataclass(frozen=True)
class ShownRow:
    label: str
    state: RowState
    why: str
    matched: str


@blueprint.route("/test", methods=["GET", "POST"])
@login_required
def show() -> str:
    form = RuleTestForm()
    from_log = False
    if request.method == "GET":
        log_id = request.args.get("log", type=int)
        if log_id is None:
            return _page(form)
        form = RuleTestForm(formdata=None, **_fields_of(_log_row(log_id)))
        from_log = True
    elif not form.validate_on_submit():
        return _page(form)
    text, given = form.header.data or "", (form.sender.data or "").strip()
    problems = _problems(form, text, given)
    pasted = parse_header(text) if not problems else None
    if pasted is not None and not pasted.headers:
        problems.append(
            gettext(
                "No header field could be read from “%(field)s”: paste the header as your "
                "mail program shows it, each field starting with its name and a colon.",
                field=form.header.label.text,
            )
        )
    if pasted is None or problems:
        return _page(form, problems=problems, from_log=from_log)
    message = Message(envelope_sender(given, pasted.headers), pasted.headers)
    return _page(form, from_log=from_log, **_answer(message, pasted))


def _page(form: RuleTestForm, **context: Any) -> str:
    context.setdefault("problems", [])
    context.setdefault("from_log", False)
    context.setdefault("trial", None)
    return render_template(
        "tester.html", form=form, max_kb=HEADER_MAX_BYTES // 1024, states=STATES, **context
    )


def _log_row(log_id: int) -> DeliveryLogEntry:
    with store().read() as db:
        row = delivery_entry(db, current_account_id(), log_id)
    if row is None:
        abort(404)
    return row


def _fields_of(row: DeliveryLogEntry) -> dict[str, str]:
    """The header a 受信ログ row can give: the log keeps the sender and the subject only."""
    lines = [f"From: {row.sender}"] if row.sender else []
    lines.append("Subject: " + " ".join(row.subject.splitlines()))
    return {"header": "\n".join(lines) + "\n", "sender": row.sender or "<>"}


def _problems(form: RuleTestForm, text: str, given: str) -> list[str]:
    problems = []
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > HEADER_MAX_BYTES:
        problems.append(
            gettext(
                "“%(field)s” can be at most %(limit)d KB; %(size)d KB were pasted. Paste the "
                "header only, without the body.",
                field=form.header.label.text,
                limit=HEADER_MAX_BYTES // 1024,
                size=-(-size // 1024),
            )
        )
    if given and not _address_or_null(given):
        problems.append(
            gettext(
                "“%(field)s” must be one mail address, or <> for a mail without a sender.",
                field=form.sender.label.text,
            )
        )
    return problems


def _address_or_null(given: str) -> bool:
    address = normalize_address(given)
    if not address:
        return True
    local, at, domain = address.rpartition("@")
    return bool(local and at and domain) and len(given) <= ENTRY_MAX_CHARS and given.isprintable()


def _answer(message: Message, pasted: PastedHeader) -> dict[str, Any]:
    policy = load_policy(store(), current_user.address)
    if policy is None:
        abort(404)
    today = japan_day(current_app.extensions["sekisho.clock"]())
    trial = try_message(policy, message, today, str(current_app.secret_key).encode())
    return {
        "trial": trial,
        "pasted": pasted,
        "sender": message.sender,
        "outcome": _outcome(trial.decision),
        "decided_by": _decided_by(trial.decision),
        "rows": [_shown(row, trial, policy) for row in trial.rows],
        "if_spam": _if_spam(trial, policy),
        "if_virus": _if_virus(trial),
    }


def _outcome(decision: Decision) -> str:
    return str(OUTCOMES[outcome_of(decision)])


def _label(row: TriedRow) -> str:
    return str(ROW_LABELS[(row.rule, row.action)])


def _decided_by(decision: Decision) -> str:
    if decision.hit is None:
        return gettext("No setting catches this mail by its header.")
    return reason_text(decision.hit, gettext)


def _shown(row: TriedRow, trial: Trial, policy: Policy) -> ShownRow:
    hit: RuleHit | None = row.hit
    if row.state is RowState.HIT and hit is not None:
        return ShownRow(_label(row), row.state, reason_text(hit, gettext), hit.matched)
    return ShownRow(_label(row), row.state, _why_not(row, trial, policy), "")


def _why_not(row: TriedRow, trial: Trial, policy: Policy) -> str:
    if row.state is RowState.NOT_REACHED:
        return gettext("An earlier check decided, so this one is not reached.")
    if row.state is RowState.SCAN and row.rule == virus.name:
        return gettext(
            "If the virus scan finds a virus, this check decides: %(outcome)s.",
            outcome=_outcome(trial.if_virus),
        )
    if row.state is RowState.SCAN:
        return gettext(
            "If the spam scan judges the mail spam, this check decides: %(outcome)s.",
            outcome=_outcome(trial.if_spam),
        )
    if row.rule == virus.name:
        return gettext("The virus scan is off for this address.")
    if row.rule == spam.name and not policy.spam.enabled:
        return gettext("The spam scan is off for this address.")
    # A spam verdict decides at the other spam row: the quarantine switch chose it.
    if row.rule == spam.name and row.action is Action.QUARANTINE:
        return gettext("Spam quarantine is off: spam arrives with [spam] in the subject.")
    if row.rule == spam.name:
        return gettext("Spam quarantine is on: spam goes to the spam folder.")
    return gettext("No registered entry matches.")


def _if_spam(trial: Trial, policy: Policy) -> str:
    if trial.spam_matters:
        return _outcome(trial.if_spam)
    if not policy.spam.enabled:
        return gettext("Nothing changes: the spam scan is off for this address.")
    return gettext("Nothing changes: a check before the spam scan decides.")


def _if_virus(trial: Trial) -> str:
    if trial.virus_matters:
        return gettext(
            "%(outcome)s (before every other setting; you get a report mail).",
            outcome=_outcome(trial.if_virus),
        )
    return gettext("Nothing changes: the virus scan is off for this address.")
