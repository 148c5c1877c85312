"""The REST API on the real stores through Flask's test client: every endpoint, its
problem details, the token's domains, no cookie, the rate limit and the audit log."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.test import TestResponse

from sekisho.config import load_settings
from sekisho.store import accounts, audit, operators
from sekisho.store.db import Store
from sekisho.store.models import OperatorAction, utcnow
from sekisho.store.passwords import verify_password
from sekisho.webui import create_app
from tests.imported_hashes import HASHES
from tests.test_quarantine_folder import quarantine

POP3 = audit.LoginService.POP3


@pytest.fixture
def tokens(store: Store, example_domain: str) -> dict[str, str]:
    with store.transaction() as session:
        accounts.add_domain(session, "other.example", "other", "smtp.o", "pop.o")
        accounts.add_account(session, "taro@example.jp", "taro1234")
        accounts.add_account(session, "ken@other.example", "ken12345")
        return {
            "crm": operators.create_token(session, "crm", ["example.jp"]),
            "all": operators.create_token(session, "all", []),
        }


def make_app(store: Store, tmp_path: Path, **more: str) -> Flask:
    environ = {
        "SEKISHO_SECRET_KEY": "test",
        "SEKISHO_DATABASE_URL": store.database_url,
        "SEKISHO_MAIL_ROOT": str(tmp_path / "mail"),
        "SEKISHO_API_ENABLED": "true",
        **more,
    }
    return create_app(load_settings(environ=environ), store)


@pytest.fixture
def api(store: Store, tmp_path: Path, tokens: dict[str, str]) -> FlaskClient:
    return make_app(store, tmp_path).test_client()


def call(
    api: FlaskClient, method: str, path: str, token: str | None, **options: Any
) -> TestResponse:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = api.open(f"/api/v1{path}", method=method, headers=headers, **options)
    assert "Set-Cookie" not in response.headers
    return response


def problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = response.get_json()
    assert body["status"] == status
    return body


def test_the_description_is_served_without_a_token(api: FlaskClient) -> None:
    response = call(api, "GET", "/openapi.json", None)
    assert response.status_code == 200
    described = response.get_json()
    assert described["openapi"] == "3.1.0"
    assert set(described["paths"]) == {
        "/accounts",
        "/accounts/{address}",
        "/accounts/{address}/settings",
        "/accounts/{address}/quarantine",
        "/accounts/{address}/quarantine/{id}/release",
        "/accounts/{address}/password-reset",
        "/accounts/{address}/unlock",
    }


def test_without_a_valid_token_it_is_401(api: FlaskClient) -> None:
    body = problem(call(api, "GET", "/accounts", None), 401)
    assert body["title"] == "Unauthorized"
    problem(call(api, "GET", "/accounts", "sks_wrong"), 401)
    response = api.get("/api/v1/accounts", headers={"Authorization": "Basic eDp5"})
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="sekisho"'


def test_the_api_is_off_unless_enabled(
    store: Store, tmp_path: Path, tokens: dict[str, str]
) -> None:
    off = make_app(store, tmp_path, SEKISHO_API_ENABLED="false").test_client()
    assert off.get("/api/v1/openapi.json").status_code == 404


def test_create_an_account_with_an_imported_hash(api: FlaskClient, tokens: dict[str, str]) -> None:
    created = call(
        api,
        "POST",
        "/accounts",
        tokens["crm"],
        json={"address": "Hanako@Example.JP", "password_hash": HASHES["SHA512-CRYPT"]},
    )
    assert created.status_code == 201
    assert created.headers["Location"] == "/api/v1/accounts/hanako@example.jp"
    assert created.get_json() == {
        **created.get_json(),
        "address": "hanako@example.jp",
        "status": "active",
        "password_scheme": "SHA512-CRYPT",
    }
    again = problem(
        call(
            api,
            "POST",
            "/accounts",
            tokens["crm"],
            json={"address": "hanako@example.jp", "password": "x1"},
        ),
        409,
    )
    assert again["detail"] == "account hanako@example.jp exists already"
    wrong = problem(
        call(
            api,
            "POST",
            "/accounts",
            tokens["crm"],
            json={"address": "jiro@example.jp", "password_hash": "$6$x"},
        ),
        422,
    )
    assert wrong["detail"].startswith("password_hash: the hash must start with one of {ARGON2ID}")
    outside = problem(
        call(
            api,
            "POST",
            "/accounts",
            tokens["crm"],
            json={"address": "a@other.example", "password": "x1"},
        ),
        403,
    )
    assert outside["detail"] == "This token may not add accounts to other.example."
    problem(call(api, "POST", "/accounts", tokens["crm"], data="not json"), 400)


def test_list_show_and_search_within_the_tokens_domains(
    api: FlaskClient, tokens: dict[str, str]
) -> None:
    listed = call(api, "GET", "/accounts", tokens["crm"]).get_json()
    assert [entry["address"] for entry in listed["accounts"]] == ["taro@example.jp"]
    assert (listed["page"], listed["pages"], listed["total"]) == (1, 1, 1)
    everything = call(api, "GET", "/accounts?q=e&page=1", tokens["all"]).get_json()
    assert [entry["address"] for entry in everything["accounts"]] == [
        "ken@other.example",
        "taro@example.jp",
    ]
    shown = call(api, "GET", "/accounts/taro@example.jp", tokens["crm"]).get_json()
    assert shown["domain"] == "example.jp"
    assert "password_hash" not in shown
    hidden = problem(call(api, "GET", "/accounts/ken@other.example", tokens["crm"]), 404)
    assert hidden["detail"] == "No account ken@other.example."
    problem(call(api, "GET", "/accounts/nobody@example.jp", tokens["crm"]), 404)


def test_suspend_resume_and_delete(api: FlaskClient, tokens: dict[str, str], store: Store) -> None:
    path = "/accounts/taro@example.jp"
    changed = call(api, "PATCH", path, tokens["crm"], json={"status": "suspended"})
    assert changed.get_json()["status"] == "suspended"
    with store.read() as session:
        assert accounts.authenticate(session, "taro@example.jp", "taro1234") is None
    assert (
        call(api, "PATCH", path, tokens["crm"], json={"status": "active"}).get_json()["status"]
        == "active"
    )
    problem(call(api, "PATCH", path, tokens["crm"], json={"status": "closed"}), 422)
    problem(call(api, "DELETE", "/accounts/ken@other.example", tokens["crm"]), 404)
    assert call(api, "DELETE", path, tokens["crm"]).status_code == 204
    problem(call(api, "GET", path, tokens["crm"]), 404)


def test_settings_as_the_cli_exports_and_imports_them(
    api: FlaskClient, tokens: dict[str, str]
) -> None:
    path = "/accounts/taro@example.jp/settings"
    document = call(api, "GET", path, tokens["crm"]).get_json()
    assert document["reject_from"] == []
    stored = call(api, "PUT", path, tokens["crm"], json={"reject_from": ["spam.example"]})
    assert stored.status_code == 200
    assert stored.get_json()["reject_from"] == ["spam.example"]
    english = api.put(
        f"/api/v1{path}",
        json={"reject_from": ["a b"], "tag": 1},
        headers={"Authorization": f"Bearer {tokens['crm']}", "Accept-Language": "en"},
    )
    refused = problem(english, 422)
    assert refused["errors"] == [
        "Unknown key “tag”.",
        "Line 1: “a b” contains a space; enter one address per line.",
    ]
    japanese = problem(call(api, "PUT", path, tokens["crm"], json={"virus_scan": "on"}), 422)
    assert "virus_scan" in japanese["detail"]
    assert call(api, "GET", path, tokens["crm"]).get_json()["reject_from"] == ["spam.example"]


def test_quarantine_list_and_release(
    api: FlaskClient, tokens: dict[str, str], store: Store, tmp_path: Path
) -> None:
    record_id = quarantine(store, tmp_path / "mail", "spam")
    listed = call(api, "GET", "/accounts/taro@example.jp/quarantine", tokens["crm"]).get_json()
    assert [(m["id"], m["sender"], m["released_at"]) for m in listed["messages"]] == [
        (record_id, "x@bad.example", None)
    ]
    path = f"/accounts/taro@example.jp/quarantine/{record_id}/release"
    released = call(api, "POST", path, tokens["crm"]).get_json()
    assert released["outcome"] == "done"
    assert released["released_at"] is not None
    assert [p.name for p in (tmp_path / "mail" / "example.jp" / "taro" / "new").iterdir()]
    assert call(api, "POST", path, tokens["crm"]).get_json()["outcome"] == "already"
    problem(
        call(api, "POST", "/accounts/taro@example.jp/quarantine/999/release", tokens["crm"]), 404
    )
    problem(call(api, "GET", "/accounts/ken@other.example/quarantine", tokens["crm"]), 404)


def test_each_token_has_its_rate_limit(
    store: Store, tmp_path: Path, tokens: dict[str, str]
) -> None:
    limited = make_app(store, tmp_path, SEKISHO_API_CALLS_PER_MINUTE="3").test_client()
    for _ in range(3):
        assert call(limited, "GET", "/accounts", tokens["crm"]).status_code == 200
    refused = call(limited, "GET", "/accounts", tokens["crm"])
    problem(refused, 429)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert call(limited, "GET", "/accounts", tokens["all"]).status_code == 200


def test_a_tokens_rate_limit_holds_across_web_processes_and_frees_a_minute_later(
    store: Store, tmp_path: Path, tokens: dict[str, str]
) -> None:
    """gunicorn's workers (systemd/sekisho-web.service runs 4) and the other nodes count a
    token's calls together, in the audit log they all write: the limit is the token's,
    not each process's. Refused calls do not count against it."""
    first, second = (
        make_app(store, tmp_path, SEKISHO_API_CALLS_PER_MINUTE="4").test_client() for _ in "12"
    )
    for client in (first, second, first, second):
        assert call(client, "GET", "/accounts", tokens["crm"]).status_code == 200
    for client in (first, second):
        refused = call(client, "GET", "/accounts", tokens["crm"])
        problem(refused, 429)
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    with store.transaction() as session:  # the minute passes
        session.execute(
            update(OperatorAction)
            .where(OperatorAction.actor == "api:crm")
            .values(at=utcnow() - timedelta(seconds=61))
        )
    for client in (first, second, first, second):
        assert call(client, "GET", "/accounts", tokens["crm"]).status_code == 200
    problem(call(first, "GET", "/accounts", tokens["crm"]), 429)


def test_every_call_is_in_the_audit_log_with_the_tokens_name(
    api: FlaskClient, tokens: dict[str, str], store: Store
) -> None:
    call(api, "GET", "/accounts/taro@example.jp", tokens["crm"])
    call(api, "PATCH", "/accounts/taro@example.jp", tokens["crm"], json={"status": "suspended"})
    call(api, "GET", "/accounts/ken@other.example", tokens["crm"])
    with store.read() as session:
        logged = [
            (a.actor, a.action, a.target, a.details) for a in operators.latest_actions(session)
        ]
    assert logged[:3] == [
        ("api:crm", "GET /api/v1/accounts/<address>", "ken@other.example", "404"),
        ("api:crm", "PATCH /api/v1/accounts/<address>", "taro@example.jp", "200"),
        ("api:crm", "GET /api/v1/accounts/<address>", "taro@example.jp", "200"),
    ]


def test_a_revoked_token_stops_at_once(
    api: FlaskClient, tokens: dict[str, str], store: Store
) -> None:
    with store.transaction() as session:
        operators.revoke_token(session, "crm")
    problem(call(api, "GET", "/accounts", tokens["crm"]), 401)


def test_a_lost_password_is_replaced_by_a_temporary_one_answered_once(
    api: FlaskClient, store: Store, tokens: dict[str, str]
) -> None:
    answer = call(api, "POST", "/accounts/taro@example.jp/password-reset", tokens["crm"])
    assert answer.status_code == 200
    temporary = answer.get_json()["temporary_password"]
    with store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp")
        assert taro.must_change_password
        assert verify_password(taro.password_hash, temporary)
        assert not verify_password(taro.password_hash, "taro1234")
    problem(call(api, "POST", "/accounts/ken@other.example/password-reset", tokens["crm"]), 404)


def test_an_unlock_clears_the_lockout_and_says_what_it_cleared(
    api: FlaskClient, store: Store, tokens: dict[str, str]
) -> None:
    now = utcnow()
    with store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp")
        for _ in range(audit.MAX_FAILURES_PER_ADDRESS):
            audit.record_attempt(
                session, "taro@example.jp", "198.51.100.4", taro.id, False, now, service=POP3
            )
    answer = call(api, "POST", "/accounts/taro@example.jp/unlock", tokens["crm"])
    assert answer.status_code == 200
    assert answer.get_json() == {
        "address": "taro@example.jp",
        "failures_cleared": audit.MAX_FAILURES_PER_ADDRESS,
        "locked_until": (now + audit.WINDOW).isoformat(),
    }
    with store.read() as session:
        assert audit.throttled_until(session, "taro@example.jp", "198.51.100.4", utcnow()) is None
        (action, *_) = operators.latest_actions(session)
    assert (action.actor, action.action, action.target) == (
        "api:crm",
        "POST /api/v1/accounts/<address>/unlock",
        "taro@example.jp",
    )
    again = call(api, "POST", "/accounts/taro@example.jp/unlock", tokens["crm"]).get_json()
    assert (again["failures_cleared"], again["locked_until"]) == (0, None)
    problem(call(api, "POST", "/accounts/ken@other.example/unlock", tokens["crm"]), 404)
