"""迷惑メールスキャン設定 through the web UI with the guide's screens and labels."""

from __future__ import annotations

from flask.testing import FlaskClient

from sekisho.rules.model import SpamSetting
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.spam_settings import spam_setting
from tests.webclient import csrf, hidden, login


def current(store: Store) -> SpamSetting:
    with store.read() as session:
        return spam_setting(session, accounts.require_account(session, "taro@example.jp").id)


def test_the_guide_flow_turns_the_scan_on_with_the_tag(client: FlaskClient, store: Store) -> None:
    overview = login(client)
    assert "迷惑メールスキャン設定" in overview
    shown = client.get("/spam/").get_data(as_text=True)
    assert "迷惑メールスキャン設定参照" in shown
    assert ">設定</a>" in shown
    assert client.get("/spam/new").status_code == 302  # the terms come first
    terms = client.get("/spam/terms").get_data(as_text=True)
    assert "迷惑メールスキャン設定ご利用確認" in terms
    assert "100％判定することはできません" in terms
    form = client.post(
        "/spam/terms", data={"csrf_token": csrf(terms)}, follow_redirects=True
    ).get_data(as_text=True)  # 「了解」
    assert "<h1>迷惑メールスキャン設定</h1>" in form
    assert "迷惑メール隔離" in form
    assert "隔離メール通知" in form
    confirm = client.post(
        "/spam/new",
        data={"enabled": "on", "quarantine": "off", "notify": "off", "csrf_token": csrf(form)},
    ).get_data(as_text=True)  # 「次へ」
    assert "迷惑メールスキャン設定確認" in confirm
    assert current(store) == SpamSetting()  # nothing saved before 「登録」
    done = client.post(
        "/spam/confirm",
        data={"token": hidden(confirm, "token"), "csrf_token": csrf(confirm)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "迷惑メールスキャン設定完了" in done
    assert current(store) == SpamSetting(enabled=True, quarantine=False)
    assert "有効（件名に[spam]を付与）" in client.get("/").get_data(as_text=True)


def test_registering_twice_changes_nothing_more(client: FlaskClient, store: Store) -> None:
    login(client)
    terms = client.get("/spam/terms").get_data(as_text=True)
    form = client.post("/spam/terms", data={"csrf_token": csrf(terms)}, follow_redirects=True)
    page = form.get_data(as_text=True)
    confirm = client.post(
        "/spam/new",
        data={"enabled": "on", "quarantine": "on", "notify": "on", "csrf_token": csrf(page)},
    ).get_data(as_text=True)
    data = {"token": hidden(confirm, "token"), "csrf_token": csrf(confirm)}
    client.post("/spam/confirm", data=data)
    again = client.post("/spam/confirm", data=data, follow_redirects=True).get_data(as_text=True)
    assert "この画面は既に無効になっていたため、何も変更されていません。" in again
    assert current(store) == SpamSetting(enabled=True, quarantine=True, notify=True)
