"""ウィルススキャン設定 through the web UI: the guide's 確認 → 「了解」 → 完了, both ways."""

from __future__ import annotations

from flask.testing import FlaskClient

from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.virus_settings import virus_scan_enabled
from tests.webclient import csrf, hidden, login


def enabled(store: Store) -> bool:
    with store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        return virus_scan_enabled(session, taro)


def test_the_guide_flow_turns_the_scan_on_and_off(client: FlaskClient, store: Store) -> None:
    overview = login(client)
    assert "ウィルススキャン設定" in overview
    assert "無効（OFF）" in overview
    confirm = client.get("/virus/").get_data(as_text=True)
    assert "<h1>ウィルススキャン設定確認</h1>" in confirm
    assert "無効（OFF） → <strong>有効（ON）</strong>" in confirm
    assert "了解" in confirm
    assert not enabled(store)  # showing the confirmation changes nothing
    data = {"token": hidden(confirm, "token"), "csrf_token": csrf(confirm)}
    done = client.post("/virus/", data=data, follow_redirects=True).get_data(as_text=True)
    assert "<h1>ウィルススキャン設定完了</h1>" in done
    assert "有効（ON）" in done
    assert enabled(store)
    again = client.post("/virus/", data=data, follow_redirects=True).get_data(as_text=True)
    assert "この画面は既に無効になっていたため、何も変更されていません。" in again
    assert enabled(store)  # a second 「了解」 does not switch it back
    assert "有効（ON）" in client.get("/").get_data(as_text=True)
    back = client.get("/virus/").get_data(as_text=True)
    assert "有効（ON） → <strong>無効（OFF）</strong>" in back
    client.post("/virus/", data={"token": hidden(back, "token"), "csrf_token": csrf(back)})
    assert not enabled(store)
