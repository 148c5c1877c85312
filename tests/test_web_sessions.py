"""Sessions the server ends: a cookie copied before 「ログアウト」, a password change, a
reissued password or a suspension opens nothing afterwards, and no session outlives its
absolute lifetime or its idle timeout (sekisho.webui.sessions)."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner
from sqlalchemy import update

from sekisho.cli import main
from sekisho.store.db import Store
from sekisho.store.models import Account, utcnow
from sekisho.store.passwords import hash_password
from sekisho.webui import create_app
from tests.test_web_password import change
from tests.webclient import csrf, login


def copy_of(client: FlaskClient, app: Flask) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    other = app.test_client()
    other.set_cookie("session", cookie.value)
    return other


def logged_in(client: FlaskClient) -> bool:
    """True when the overview opens; False when it sends the browser to the login page."""
    answer = client.get("/")
    if answer.status_code == 200:
        return True
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/login"
    return False


def operator(store: Store, *arguments: str) -> None:
    result = CliRunner().invoke(main, ["--database-url", store.database_url, *arguments])
    assert result.exit_code == 0, result.output


def test_a_cookie_copied_before_logout_lands_on_the_login_page(
    client: FlaskClient, app: Flask
) -> None:
    login(client)
    copied = copy_of(client, app)
    assert logged_in(copied)
    overview = client.get("/").get_data(as_text=True)
    answer = client.post("/logout", data={"csrf_token": csrf(overview)})
    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert not logged_in(copied)
    assert not logged_in(client)


def test_a_logout_ends_the_other_browsers_of_the_account_only(
    client: FlaskClient, app: Flask
) -> None:
    other_browser, hanako = app.test_client(), app.test_client()
    login(client)
    login(other_browser)
    login(hanako, "hanako@example.jp", "hanako123")
    overview = client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf(overview)})
    assert not logged_in(other_browser)
    assert logged_in(hanako)


def test_a_password_change_ends_every_other_session_but_the_changing_one(
    client: FlaskClient, app: Flask
) -> None:
    other_browser = app.test_client()
    login(other_browser)
    copied = copy_of(other_browser, app)
    login(client)
    assert "POP アカウントパスワード変更完了" in change(client, "taro1234", "Taro2027")
    assert logged_in(client)
    assert not logged_in(other_browser)
    assert not logged_in(copied)


def test_a_reissued_password_ends_every_session(
    client: FlaskClient, app: Flask, store: Store
) -> None:
    login(client)
    copied = copy_of(client, app)
    operator(store, "account", "reset-password", "taro@example.jp")
    assert not logged_in(client)
    assert not logged_in(copied)


def test_a_password_hash_changed_outside_sekisho_ends_every_session(
    client: FlaskClient, store: Store
) -> None:
    """Dovecot's passdb reads the same column: a change made there (or by hand in the
    table) needs no call into sekisho to end the web sessions."""
    login(client)
    with store.transaction() as session:
        session.execute(
            update(Account)
            .where(Account.address == "taro@example.jp")
            .values(password_hash=hash_password("Changed2027"))
        )
    assert not logged_in(client)


def test_a_suspension_ends_every_session_and_a_resume_does_not_revive_it(
    client: FlaskClient, app: Flask, store: Store
) -> None:
    login(client)
    copied = copy_of(client, app)
    operator(store, "account", "suspend", "taro@example.jp")
    assert not logged_in(copied)
    operator(store, "account", "resume", "taro@example.jp")
    assert not logged_in(copied)
    assert not logged_in(client)
    assert "ログアウト" in login(client)  # a new login works again


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


def test_a_busy_session_still_ends_after_its_absolute_lifetime(app: Flask, store: Store) -> None:
    settings = app.extensions["sekisho.settings"]
    assert settings.session_absolute_hours == 12
    clock = Clock()
    client = create_app(settings, store, clock=clock).test_client()
    login(client)
    for _ in range(12 * 2 - 1):  # a request every half hour: never idle
        clock.now += timedelta(minutes=30)
        assert logged_in(client)
    clock.now += timedelta(minutes=30)
    assert not logged_in(client)
    assert "ログアウト" in login(client)


def test_a_session_idle_past_its_timeout_goes_back_to_the_login_page(
    app: Flask, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The idle timeout is the age of the session cookie's signed timestamp, which Flask
    renews on every response: the signer reads the same clock as the app here."""
    settings = app.extensions["sekisho.settings"]
    assert settings.session_idle_minutes == 30
    clock = Clock()
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda _: int(clock.now.timestamp()))
    client = create_app(settings, store, clock=clock).test_client()
    login(client)
    just_under = timedelta(minutes=29, seconds=59)
    for _ in range(3):  # each request starts the 30 minutes again
        clock.now += just_under
        assert logged_in(client)
    clock.now += timedelta(minutes=30, seconds=1)
    assert not logged_in(client)
    assert not logged_in(client)  # the expired cookie opens nothing later either
    assert "ログアウト" in login(client)
