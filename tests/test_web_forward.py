"""転送設定 through the web UI: the guide's screens, each bad address named, delete."""

from __future__ import annotations

from flask.testing import FlaskClient

from sekisho.rules.forwarding import ForwardTarget
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.forwarding import forward_targets, targets
from tests.webclient import csrf, hidden, login


def current(store: Store) -> tuple[ForwardTarget, ...]:
    with store.read() as session:
        return forward_targets(session, accounts.require_account(session, "taro@example.jp").id)


def next_step(client: FlaskClient, address: str, keep: str = "keep") -> str:
    form = client.get("/forward/new").get_data(as_text=True)
    return client.post(
        "/forward/new", data={"address": address, "keep": keep, "csrf_token": csrf(form)}
    ).get_data(as_text=True)


def test_the_guide_flow_adds_a_forwarding_address(client: FlaskClient, store: Store) -> None:
    overview = login(client)
    assert "転送設定" in overview
    listing = client.get("/forward/").get_data(as_text=True)
    assert "<h1>転送設定一覧参照</h1>" in listing
    form = client.get("/forward/new").get_data(as_text=True)
    assert "<h1>転送設定</h1>" in form
    for label in ("転送先メールアドレス", "残す", "残さない", "次へ"):
        assert label in form
    confirm = next_step(client, "Jiro@Mobile.example", "drop")
    assert "<h1>転送設定確認</h1>" in confirm
    assert "jiro@mobile.example" in confirm
    assert current(store) == ()  # nothing saved before 「登録」
    data = {"token": hidden(confirm, "token"), "csrf_token": csrf(confirm)}
    done = client.post("/forward/confirm", data=data, follow_redirects=True).get_data(as_text=True)
    assert "<h1>転送設定完了</h1>" in done
    assert current(store) == (ForwardTarget("jiro@mobile.example", False),)
    again = client.post("/forward/confirm", data=data, follow_redirects=True)
    assert "この画面は既に無効" in again.get_data(as_text=True)
    assert len(current(store)) == 1
    assert "1 件" in client.get("/").get_data(as_text=True)


def test_each_bad_address_is_named(client: FlaskClient, store: Store) -> None:
    login(client)
    assert "はメールアドレス（名前@ドメイン）の形になっていません" in next_step(
        client, "mobile.example"
    )
    assert "はこのメールアドレス自身です" in next_step(client, "taro@example.jp")
    assert "転送先メールアドレスを入力してください" in next_step(client, "")
    too_long = next_step(client, "a" * 400 + "@mobile.example")
    assert "メールアドレスが長すぎます。320 文字以内で入力してください。" in too_long
    confirm = next_step(client, "jiro@mobile.example")
    client.post(
        "/forward/confirm", data={"token": hidden(confirm, "token"), "csrf_token": csrf(confirm)}
    )
    assert "は既に転送先として登録されています" in next_step(client, "JIRO@mobile.example")
    assert current(store) == (ForwardTarget("jiro@mobile.example", True),)


def test_delete_from_the_list(client: FlaskClient, store: Store) -> None:
    login(client)
    confirm = next_step(client, "jiro@mobile.example")
    client.post(
        "/forward/confirm", data={"token": hidden(confirm, "token"), "csrf_token": csrf(confirm)}
    )
    listing = client.get("/forward/").get_data(as_text=True)
    assert "jiro@mobile.example" in listing
    with store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        (row_id,) = [row.id for row in targets(session, taro)]
    ask = client.get(f"/forward/{row_id}/delete").get_data(as_text=True)
    assert "この転送先を削除します。" in ask
    assert len(current(store)) == 1
    done = client.post(
        f"/forward/{row_id}/delete",
        data={"token": hidden(ask, "token"), "csrf_token": csrf(ask)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "転送先を削除しました。" in done
    assert current(store) == ()
