"""The web UI through Flask's test client: login, overview, quarantine page, protections."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from sekisho.store import accounts
from sekisho.store.db import Store
from tests.test_web_lists import saved
from tests.webclient import csrf, login


def test_login_page_uses_the_guide_labels(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "メールアドレスログイン" in page
    assert "POP アカウントパスワード" in page
    assert ">ログイン</button>" in page


def test_english_on_request(client: FlaskClient) -> None:
    page = client.get("/login?lang=en").get_data(as_text=True)
    assert "Mail address login" in page
    assert "Mail address login" in client.get("/login").get_data(as_text=True)  # remembered


def test_pages_need_a_login(client: FlaskClient) -> None:
    response = client.get("/reject/from/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_every_screen_but_the_login_and_the_mailed_links_needs_a_login(
    app: Flask, client: FlaskClient
) -> None:
    open_to_all = {"static", "auth.login", "release_link.confirm"}
    screens = [
        rule.build(dict.fromkeys(rule.arguments, 1))[1]
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint not in open_to_all
    ]
    assert len(screens) > 30
    for url in screens:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/login"), url


def test_wrong_password_and_unknown_address_get_the_same_answer(client: FlaskClient) -> None:
    wrong = login(client, password="nope12345")
    unknown = login(client, address="nobody@example.jp")
    message = "メールアドレスまたは POP アカウントパスワードが正しくありません。"
    assert message in wrong
    assert message in unknown


def test_overview_after_login(client: FlaskClient) -> None:
    page = login(client)
    assert "メールアカウント情報参照" in page
    assert "taro@example.jp" in page
    assert "smtp.example.jp" in page
    assert "pop.example.jp" in page
    assert "利用可能" in page
    assert "受信拒否設定" in page


def test_post_without_csrf_token_is_refused(client: FlaskClient, store: Store) -> None:
    login(client)
    response = client.post(
        "/reject/from/confirm",
        data={"entries": "bad.example", "token": "x"},
        follow_redirects=True,
    )
    assert "画面の有効期限が切れたため、何も変更されていません。" in response.get_data(as_text=True)
    assert saved(store) == []


def test_suspended_account_cannot_log_in(client: FlaskClient, store: Store) -> None:
    with store.transaction() as session:
        accounts.set_status(session, "taro@example.jp", "suspended")
    assert "メールアドレスまたは POP アカウントパスワードが正しくありません。" in login(client)


def test_every_message_has_a_japanese_translation() -> None:
    from babel.messages.pofile import read_po

    po = Path(__file__).parents[1] / "sekisho/webui/translations/ja/LC_MESSAGES/messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle)
    untranslated = [m.id for m in catalog if m.id and not m.string]
    assert untranslated == []


def test_quarantine_page_lists_why_and_until_when(client: FlaskClient, store: Store) -> None:
    from sekisho.store.quarantine import QuarantineRecord, record_quarantine

    with store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp")
        record_quarantine(
            session,
            QuarantineRecord(
                account_id=taro.id,
                address="taro@example.jp",
                message_key="k1",
                file_name="1.M1P1Q1.host,S=10",
                rule="reject_from",
                entry="bad.example",
                matched="someone@bad.example",
                sender="someone@bad.example",
                subject="未承諾広告 <script>",
                queue_id="ABC123",
            ),
        )
    overview = login(client)
    assert "迷惑メールフォルダ" in overview
    assert "1 通" in overview
    page = client.get("/quarantine/").get_data(as_text=True)
    assert "someone@bad.example" in page
    assert "未承諾広告 &lt;script&gt;" in page  # escaped, never rendered
    assert "From（送信者アドレス）受信拒否設定：「bad.example」" in page
    hanako = FlaskClient(client.application, use_cookies=True)
    login(hanako, "hanako@example.jp", "hanako123")
    assert "迷惑メールフォルダにメールはありません。" in hanako.get("/quarantine/").get_data(
        as_text=True
    )


def test_pages_forbid_framing_and_sessions_expire_when_idle(client: FlaskClient) -> None:
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self';")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    page = response.get_data(as_text=True)
    response = client.post(
        "/login",
        data={"address": "taro@example.jp", "password": "taro1234", "csrf_token": csrf(page)},
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # permanent: 30 minutes, renewed by every request
