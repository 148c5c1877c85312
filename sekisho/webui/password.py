"""POP アカウントパスワード変更: current, new, new again → 「変更」 → 完了.

The hash is written in the scheme Dovecot verifies and Dovecot's passdb reads the same
column, so the POP login (and SASL submission) changes with it at once, and every other
web session of the account ends (sekisho.webui.sessions). An account that logged in with
its temporary password reaches nothing else until it has changed it.
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user
from werkzeug.wrappers import Response

from sekisho.rules.passwords import LONGEST_CHECKED, password_problems
from sekisho.store import accounts
from sekisho.store.audit import record_change
from sekisho.store.models import Account, utcnow
from sekisho.webui import sessions
from sekisho.webui.access import login_required
from sekisho.webui.context import store
from sekisho.webui.flows import client_address, current_account_id
from sekisho.webui.forms import PasswordChangeForm

blueprint = Blueprint("password", __name__, url_prefix="/password")
# What an account with a temporary password may still reach.
_OPEN_WHILE_TEMPORARY = frozenset({"password.change", "password.done", "auth.logout", "static"})


def init_app(app: Flask) -> None:
    @app.before_request
    def temporary_password_first() -> Response | None:
        if (
            current_user.is_authenticated
            and current_user.must_change_password
            and request.endpoint not in _OPEN_WHILE_TEMPORARY
        ):
            flash(gettext("Please change your temporary password first."))
            return redirect(url_for("password.change"))
        return None


@blueprint.route("/", methods=["GET", "POST"])
@login_required
def change() -> str | Response:
    form = PasswordChangeForm()
    shown = request.args.get("show") == "1"
    errors: list[str] = []
    if form.validate_on_submit():
        errors = _problems(form)
        if not errors:
            with store().transaction() as db:
                account_id = current_account_id()
                accounts.set_password(db, account_id, form.new.data)
                record_change(db, account_id, "password", client_address(), utcnow())
                account = db.get_one(Account, account_id, populate_existing=True)
                # The new hash ends every other session; this browser is bound to it.
                sessions.bind(account, since=sessions.login_time())
            return redirect(url_for("password.done"))
    return render_template("password/form.html", form=form, shown=shown, errors=errors)


def _problems(form: PasswordChangeForm) -> list[str]:
    current, new, again = form.current.data or "", form.new.data or "", form.again.data or ""
    errors = []
    account = None
    if len(current) <= LONGEST_CHECKED:
        with store().read() as db:
            account = accounts.authenticate(db, current_user.address, current)
    if account is None:
        errors.append(gettext("The current POP account password is not correct."))
    errors.extend(problem.render(gettext) for problem in password_problems(new))
    if new != again:
        errors.append(gettext("The new password and its confirmation are not the same."))
    if account is not None and new == current:
        errors.append(gettext("The new password is the same as the current one."))
    return errors


@blueprint.route("/done")
@login_required
def done() -> str:
    return render_template("password/done.html")
