"""国外からのメール送信制限設定 through the web UI: 確認 → 「了解」 → 完了, the week, the
extension, and the overview's 制限中 / 解除中 with the end in Japan time."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask.testing import FlaskClient

from sekisho.rules.abroad import UNLOCK_PERIOD
from sekisho.store import accounts
from sekisho.store.abroad import set_unlocked_until, unlocked_until
from sekisho.store.db import Store
from sekisho.store.models import utcnow
from tests.webclient import csrf, hidden, login


def until(store: Store) -> datetime | None:
    with store.read() as session:
        return unlocked_until(session, accounts.require_account(session, "taro@example.jp").id)


def press(client: FlaskClient, page: str, action: str) -> str:
    data = {"token": hidden(page, "token"), "csrf_token": csrf(page)}
    return client.post(f"/abroad/{action}", data=data, follow_redirects=True).get_data(as_text=True)


def test_lift_extend_and_restrict_as_the_guide_says(client: FlaskClient, store: Store) -> None:
    overview = login(client)
    assert "国外からのメール送信制限設定" in overview
    assert "制限中" in overview
    confirm = client.get("/abroad/").get_data(as_text=True)
    assert "<h1>国外からのメール送信制限設定確認</h1>" in confirm
    assert "制限中 → <strong>解除中（" in confirm
    assert until(store) is None  # the confirmation changes nothing
    started = utcnow()
    done = press(client, confirm, "unlock")
    assert "<h1>国外からのメール送信制限設定完了</h1>" in done
    first = until(store)
    assert first is not None
    assert started + UNLOCK_PERIOD <= first <= utcnow() + UNLOCK_PERIOD
    shown = (first + timedelta(hours=9)).strftime("%Y/%m/%d %H:%M")  # Asia/Tokyo
    assert f"解除中（{shown} まで）" in client.get("/").get_data(as_text=True)

    again = client.get("/abroad/").get_data(as_text=True)
    assert f"解除中（{shown} まで） → <strong>制限中</strong>" in again
    assert "延長" in again
    press(client, again, "unlock")  # extend: a new week from now
    second = until(store)
    assert second is not None
    assert second >= first

    restrict = client.get("/abroad/").get_data(as_text=True)
    press(client, restrict, "restrict")
    assert until(store) is None
    assert "制限中" in client.get("/").get_data(as_text=True)


def test_a_week_that_ended_shows_restricted_again(client: FlaskClient, store: Store) -> None:
    with store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        set_unlocked_until(session, taro, utcnow() - timedelta(minutes=1))
    overview = login(client)
    assert "解除中" not in overview
    assert "制限中 → <strong>解除中（" in client.get("/abroad/").get_data(as_text=True)


def test_a_used_or_forged_step_changes_nothing(client: FlaskClient, store: Store) -> None:
    login(client)
    confirm = client.get("/abroad/").get_data(as_text=True)
    press(client, confirm, "unlock")
    first = until(store)
    answer = press(client, confirm, "unlock")  # the same 「了解」 again
    assert "この画面は既に無効になっていたため、何も変更されていません。" in answer
    assert until(store) == first
    fresh = client.get("/abroad/").get_data(as_text=True)
    assert "この画面は既に無効" in press(client, fresh, "everything")
    assert until(store) == first
