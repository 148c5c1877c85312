"""「メールアドレスログイン」: address + POP password. The same answer for every failure."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Blueprint, Flask, redirect, render_template, session, url_for
from flask_babel import format_datetime, gettext
from flask_babel import lazy_gettext as _l
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_user,
    logout_user,
)
from werkzeug.wrappers import Response

from sekisho.envelope import CONTROL
from sekisho.store import accounts, audit
from sekisho.store.models import Account, LoginAttempt
from sekisho.webui import changes as changes_text
from sekisho.webui import sessions
from sekisho.webui.access import login_required
from sekisho.webui.context import store
from sekisho.webui.flows import client_address
from sekisho.webui.forms import LoginForm
from sekisho.webui.sites import current_site, login_url

log = logging.getLogger("sekisho.web")
blueprint = Blueprint("auth", __name__)
login_manager = LoginManager()
# The door each login of ログイン履歴 came by (LoginAttempt.service).
SERVICE_NAMES = {
    audit.LoginService.WEB: _l("Web"),
    audit.LoginService.POP3: _l("POP3"),
    audit.LoginService.IMAP: _l("IMAP"),
    audit.LoginService.SMTP: _l("SMTP (sending)"),
    audit.LoginService.OTHER: _l("Other"),
    audit.LoginService.OPERATOR: _l("Operator"),
}


@dataclass
class User(UserMixin):  # type: ignore[misc]  # flask-login ships no type hints
    """The logged-in mailbox, as the views need it."""

    id: int
    address: str
    must_change_password: bool = False
    site: str = ""  # the name of its login site

    def get_id(self) -> str:
        return str(self.id)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""

    @app.before_request
    def same_site_only() -> Response | None:
        """A session opened on one login site is not valid on another."""
        site = current_site()
        if current_user.is_authenticated and site and current_user.site != site:
            logout_user()
            session.clear()
            return redirect(url_for("auth.login"))
        return None


def _other_site(address: str) -> str:
    """The refusal naming the right site when the address's domain belongs to another
    login site than the one this page is served under; "" when it is this one's."""
    here = current_site()
    if not here:
        return ""
    with store().read() as db:
        domain = accounts.domain_for(db, address)
        if domain is None or domain.site.name == here:
            return ""
        return str(
            gettext(
                "%(address)s is managed on another login page: please log in at %(url)s.",
                address=address.strip().lower(),
                url=login_url(domain.site),
            )
        )


@login_manager.user_loader  # type: ignore[untyped-decorator]
def load_user(user_id: str) -> User | None:
    with store().read() as db:
        account = db.get(Account, int(user_id)) if user_id.isdigit() else None
        if account is None or account.status != "active" or not sessions.is_current(account):
            # Logged out, password changed, suspended or too old: the cookie is dropped.
            session.clear()
            return None
        return User(
            account.id,
            account.address,
            account.must_change_password,
            account.domain.site.name,
        )


def _loggable(address: str) -> str:
    """The typed address as a log line may hold it: readable, without line breaks or
    other control characters (which could forge a line), at most an address long."""
    return CONTROL.sub("", address)[:320]


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    form = LoginForm()
    error = ""
    if form.validate_on_submit():
        address, client = form.address.data or "", client_address()
        now = sessions.now()
        wrong_site = _other_site(address)
        if wrong_site:
            return render_template("login.html", form=form, error=wrong_site)
        with store().read() as db:
            until = audit.throttled_until(db, address, client, now)
        if until is not None:
            log.warning("login_throttled address=%s client=%s", _loggable(address), client)
            error = gettext(
                "Too many failed logins. Please try again after %(time)s.",
                time=format_datetime(until, "HH:mm"),
            )
            return render_template("login.html", form=form, error=error), 429
        password = form.password.data or ""
        with store().transaction() as db:
            account = accounts.authenticate(db, address, password)
            known = accounts.find_account(db, address)
            audit.record_attempt(
                db,
                address,
                client,
                known.id if known else None,
                account is not None,
                now,
                service=audit.LoginService.WEB,
            )
            if account is not None and accounts.upgrade_password_hash(account, password):
                log.info("password_rehashed address=%s", account.address)
        if account is None:
            # The password is never logged, not even a wrong one: it may be a near miss.
            log.warning(
                "login_failed address=%s client=%s known=%s",
                _loggable(address),
                client,
                "yes" if known is not None else "no",
            )
        else:
            session.clear()  # a fresh session at login: no fixation of an earlier one
            # Permanent: the idle timeout restarts with every request.
            session.permanent = True
            login_user(User(account.id, account.address, account.must_change_password))
            sessions.bind(account)
            if account.must_change_password:
                return redirect(url_for("password.change"))
            return redirect(url_for("overview.show"))
        error = gettext("The mail address or the POP account password is not correct.")
    elif form.is_submitted():
        error = (
            gettext("Enter the mail address and the POP account password.")
            if not (form.address.data and form.password.data)
            else gettext("The mail address or the POP account password is not correct.")
        )
    return render_template("login.html", form=form, error=error)


@blueprint.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    # Every session of the account ends, so a copy of this cookie is refused too.
    with store().transaction() as db:
        accounts.end_sessions(db, int(current_user.id))
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.route("/history")
@login_required
def history() -> str:
    """ログイン履歴: the latest logins to this mailbox, good and bad, with the client and
    the service (web, POP3, IMAP, SMTP)."""
    with store().read() as db:
        attempts = audit.history(db, int(current_user.id))
        changes = audit.changes(db, int(current_user.id))
    return render_template(
        "history.html",
        attempts=attempts,
        changes=changes,
        describe=changes_text.describe,
        service_names=SERVICE_NAMES,
        result=_result,
    )


def _result(attempt: LoginAttempt) -> str:
    if attempt.service == audit.LoginService.OPERATOR:
        return str(gettext("Lockout cleared"))
    return str(gettext("Logged in") if attempt.succeeded else gettext("Wrong password"))
