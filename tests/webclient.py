"""Driving the web UI through Flask's test client: fixtures and form helpers."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sekisho.config import load_settings
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.webui import create_app


@pytest.fixture
def mail_root(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def app(store: Store, example_domain: str, mail_root: Path) -> Flask:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "taro1234")
        accounts.add_account(session, "hanako@example.jp", "hanako123")
    settings = load_settings(
        environ={
            "SEKISHO_SECRET_KEY": "test",
            "SEKISHO_DATABASE_URL": store.database_url,
            "SEKISHO_MAIL_ROOT": str(mail_root),
        }
    )
    return create_app(settings, store)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert found, page
    return found.group(1)


def hidden(page: str, name: str) -> str:
    """The value of a hidden field of ``page`` (entity-decoded)."""
    found = re.search(rf'id="{name}" name="{name}" type="hidden" value="([^"]*)"', page)
    assert found, page
    return html.unescape(found.group(1))


def login(client: FlaskClient, address: str = "taro@example.jp", password: str = "taro1234") -> str:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"address": address, "password": password, "csrf_token": csrf(page)},
        follow_redirects=True,
    )
    return response.get_data(as_text=True)
