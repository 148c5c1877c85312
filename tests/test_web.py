"""The web UI through Flask's test client: login, overview, the From list's add flow."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from sekisho.config import load_settings
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.reject_lists import reject_from_values
from sekisho.webui import create_app


@pytest.fixture
def app(store: Store, example_domain: str, tmp_path: Path) -> Iterator[Flask]:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "taro1234")
        accounts.add_account(session, "hanako@example.jp", "hanako123")
    settings = load_settings(
        environ={"SEKISHO_SECRET_KEY": "test", "SEKISHO_DATABASE_URL": store.database_url}
    )
    return create_app(settings, store)


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert found, page
    return found.group(1)


def login(client: FlaskClient, address: str = "taro@example.jp", password: str = "taro1234") -> str:
    page = client.get("/login").get_data(as_text=True)
    response = client.post(
        "/login",
        data={"address": address, "password": password, "csrf_token": csrf(page)},
        follow_redirects=True,
    )
    return response.get_data(as_text=True)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


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
    response = client.get("/reject/from")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


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


def add_entries(client: FlaskClient, text: str) -> str:
    form = client.get("/reject/from/new").get_data(as_text=True)
    response = client.post("/reject/from/new", data={"entries": text, "csrf_token": csrf(form)})
    return response.get_data(as_text=True)


def register(client: FlaskClient, confirm_page: str) -> str:
    entries = re.search(r'id="entries" name="entries" type="hidden" value="([^"]*)"', confirm_page)
    token = re.search(r'id="token" name="token" type="hidden" value="([^"]*)"', confirm_page)
    assert entries, confirm_page
    assert token, confirm_page
    data = {
        "entries": entries.group(1).replace("&#10;", "\n"),
        "token": token.group(1),
        "csrf_token": csrf(confirm_page),
    }
    return client.post("/reject/from/confirm", data=data, follow_redirects=True).get_data(
        as_text=True
    )


def saved(store: Store, address: str = "taro@example.jp") -> list[str]:
    with store.read() as session:
        return reject_from_values(session, accounts.require_account(session, address).id)


def test_add_flow_list_form_confirm_register_done(client: FlaskClient, store: Store) -> None:
    login(client)
    listing = client.get("/reject/from").get_data(as_text=True)
    assert "From（送信者アドレス）受信拒否設定一覧参照" in listing
    assert ">設定</a>" in listing
    confirm = add_entries(client, "Bad.Example\n\nspam@junk.example\n")
    assert "From（送信者アドレス）受信拒否設定確認" in confirm
    assert ">登録</button>" in confirm
    assert "bad.example" in confirm
    assert saved(store) == []  # nothing is saved before 「登録」
    done = register(client, confirm)
    assert "From（送信者アドレス）受信拒否設定完了" in done
    assert saved(store) == ["bad.example", "spam@junk.example"]
    listing = client.get("/reject/from").get_data(as_text=True)
    assert "spam@junk.example" in listing
    assert saved(store, "hanako@example.jp") == []  # per recipient


def test_register_posted_twice_saves_once(client: FlaskClient, store: Store) -> None:
    login(client)
    confirm = add_entries(client, "bad.example")
    register(client, confirm)
    again = register(client, confirm)
    assert "From（送信者アドレス）受信拒否設定一覧参照" in again
    assert saved(store) == ["bad.example"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "\n".join(f"s{i}.example" for i in range(21)),
            "一度に登録できるのは20行までです（入力は21行）。",
        ),
        ("a" * 317 + ".jp" + "x", "は321文字です。1行320文字以内で入力してください。"),
        ("dup.example\nDUP.example", "2行目：「DUP.example」は1行目と重複しています。"),
        ("bad one.example", "1行目：「bad one.example」に空白が含まれています。"),
        ("bad\x01.example", "1行目：「bad�.example」に制御文字が含まれています。"),
        ("taro@", "アカウント名（@より前）のみのため、一致しません"),
    ],
)
def test_bad_input_is_refused_naming_line_and_rule(
    client: FlaskClient, store: Store, text: str, message: str
) -> None:
    login(client)
    page = add_entries(client, text)
    assert "登録されていません。以下を修正して再度お試しください。" in page
    assert message in page
    assert saved(store) == []


def test_already_registered_entry_is_named(client: FlaskClient, store: Store) -> None:
    login(client)
    register(client, add_entries(client, "bad.example"))
    page = add_entries(client, "new.example\nbad.example")
    assert "2行目：「bad.example」は既に登録されています。" in page
    assert saved(store) == ["bad.example"]


def test_post_without_csrf_token_is_refused(client: FlaskClient, store: Store) -> None:
    login(client)
    response = client.post("/reject/from/confirm", data={"entries": "bad.example", "token": "x"})
    assert response.status_code == 400
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
    assert "1通" in overview
    page = client.get("/quarantine/").get_data(as_text=True)
    assert "someone@bad.example" in page
    assert "未承諾広告 &lt;script&gt;" in page  # escaped, never rendered
    assert "From（送信者アドレス）受信拒否：「bad.example」" in page
    hanako = FlaskClient(client.application, use_cookies=True)
    login(hanako, "hanako@example.jp", "hanako123")
    assert "迷惑メールフォルダにメールはありません。" in hanako.get("/quarantine/").get_data(
        as_text=True
    )


def test_register_refuses_entries_other_than_those_confirmed(
    client: FlaskClient, store: Store
) -> None:
    login(client)
    confirm = add_entries(client, "shown.example")
    tampered = confirm.replace('value="shown.example"', 'value="other.example"')
    assert tampered != confirm
    register(client, tampered)
    assert saved(store) == []


def test_pages_forbid_framing_and_sessions_expire_when_idle(client: FlaskClient) -> None:
    response = client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    page = response.get_data(as_text=True)
    response = client.post(
        "/login",
        data={"address": "taro@example.jp", "password": "taro1234", "csrf_token": csrf(page)},
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # permanent: 30 minutes, renewed by every request
