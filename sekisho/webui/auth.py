"""「メールアドレスログイン」: address + POP password. The same answer for every failure."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, redirect, render_template, session, url_for
from flask_babel import gettext
from flask_login import LoginManager, UserMixin, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from sekisho.store import accounts
from sekisho.store.models import Account
from sekisho.webui.context import store
from sekisho.webui.forms import LoginForm

blueprint = Blueprint("auth", __name__)
login_manager = LoginManager()


@dataclass
class User(UserMixin):  # type: ignore[misc]  # flask-login ships no type hints
    """The logged-in mailbox, as the views need it."""

    id: int
    address: str
    must_change_password: bool = False

    def get_id(self) -> str:
        return str(self.id)


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""


@login_manager.user_loader  # type: ignore[untyped-decorator]
def load_user(user_id: str) -> User | None:
    with store().read() as db:
        account = db.get(Account, int(user_id)) if user_id.isdigit() else None
        if account is None or account.status != "active":
            return None
        return User(account.id, account.address, account.must_change_password)


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    form = LoginForm()
    error = ""
    if form.validate_on_submit():
        with store().read() as db:
            account = accounts.authenticate(db, form.address.data or "", form.password.data or "")
            user = (
                User(account.id, account.address, account.must_change_password) if account else None
            )
        if user is not None:
            session.clear()  # a fresh session at login: no fixation of an earlier one
            # Permanent: the 30-minute lifetime restarts with every request (idle timeout).
            session.permanent = True
            login_user(user)
            if user.must_change_password:
                return redirect(url_for("password.change"))
            return redirect(url_for("overview.show"))
        error = gettext("The mail address or the POP account password is not correct.")
    return render_template("login.html", form=form, error=error)


@blueprint.route("/logout", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
def logout() -> Response:
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
