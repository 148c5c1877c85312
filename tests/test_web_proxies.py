"""The client address behind the shipped proxy setup: X-Forwarded-For is believed from the
configured proxy only, and a forwarded header from any other peer is logged once per peer."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from sekisho.config import load_settings
from sekisho.store.db import Store
from sekisho.store.models import LoginAttempt
from sekisho.webui import create_app
from tests.webclient import csrf

EXAMPLE = Path(__file__).parents[1] / "deploy/sekisho.toml.example"


def shipped_app(app: Flask, store: Store, **environ: str) -> Flask:
    """The web UI as deploy/sekisho.toml.example configures it, on the test store."""
    settings = load_settings(
        EXAMPLE,
        environ={
            "SEKISHO_SECRET_KEY": "test",
            "SEKISHO_DATABASE_URL": store.database_url,
            "SEKISHO_MAIL_ROOT": str(app.extensions["sekisho.settings"].mail_root),
            "SEKISHO_SESSION_COOKIE_SECURE": "false",
            **environ,
        },
    )
    return create_app(settings, store)


def failed_login(client: FlaskClient, peer: str, forwarded_for: str) -> None:
    environ = {"REMOTE_ADDR": peer}
    headers = {"X-Forwarded-For": forwarded_for}
    page = client.get("/login", environ_base=environ, headers=headers).get_data(as_text=True)
    client.post(
        "/login",
        data={"address": "taro@example.jp", "password": "wrong-one", "csrf_token": csrf(page)},
        environ_base=environ,
        headers=headers,
    )


def recorded_clients(store: Store) -> list[str]:
    with store.read() as session:
        return list(session.scalars(select(LoginAttempt.client_address).order_by(LoginAttempt.id)))


def test_the_shipped_config_sees_the_customer_behind_the_local_proxy(
    app: Flask, store: Store
) -> None:
    client = shipped_app(app, store).test_client()
    failed_login(client, "127.0.0.1", "198.51.100.7")
    failed_login(client, "::1", "198.51.100.8")
    assert recorded_clients(store) == ["198.51.100.7", "198.51.100.8"]


def test_a_forwarded_header_from_another_peer_is_ignored_and_logged_once(
    app: Flask, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    client = shipped_app(app, store).test_client()
    with caplog.at_level(logging.WARNING, logger="sekisho.web"):
        for _ in range(2):
            failed_login(client, "203.0.113.5", "198.51.100.7")
        failed_login(client, "203.0.113.6", "198.51.100.7")
    assert recorded_clients(store) == ["203.0.113.5", "203.0.113.5", "203.0.113.6"]
    warnings = [r.getMessage() for r in caplog.records if "forwarded_header" in r.getMessage()]
    assert warnings == [
        "forwarded_header_ignored peer=203.0.113.5 reason=untrusted_peer",
        "forwarded_header_ignored peer=203.0.113.6 reason=untrusted_peer",
    ]


def test_a_proxy_left_out_of_the_config_is_named_in_the_log(
    app: Flask, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    client = shipped_app(app, store, SEKISHO_WEB_PROXIES="0").test_client()
    with caplog.at_level(logging.WARNING, logger="sekisho.web"):
        failed_login(client, "127.0.0.1", "198.51.100.7")
    assert recorded_clients(store) == ["127.0.0.1"]
    assert "forwarded_header_ignored peer=127.0.0.1 reason=web_proxies_is_0" in caplog.text
