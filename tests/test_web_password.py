"""POP アカウントパスワード変更 through the web UI: the guide's screen, each rule's own
message, the show-the-characters link, and the temporary password that must go first."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from sekisho.cli import main
from sekisho.store import accounts
from sekisho.store.db import Store
from tests.webclient import csrf, login


def change(client: FlaskClient, current: str, new: str, again: str | None = None) -> str:
    page = client.get("/password/").get_data(as_text=True)
    data = {"current": current, "new": new, "again": new if again is None else again}
    answer = client.post("/password/", data={**data, "csrf_token": csrf(page)})
    if answer.status_code == 302:
        return client.get(answer.headers["Location"]).get_data(as_text=True)
    return answer.get_data(as_text=True)


def test_the_guide_screen_changes_the_password(client: FlaskClient, store: Store) -> None:
    overview = login(client)
    assert "POP アカウントパスワード変更" in overview  # the button at the bottom
    page = client.get("/password/").get_data(as_text=True)
    assert "<h1>POP アカウントパスワード変更</h1>" in page
    for label in (
        "現在の POP アカウントパスワード",
        "新しい POP アカウントパスワード",
        "確認のため",
    ):
        assert label in page
    assert 'type="password"' in page
    assert "パスワードを確認しながら入力する方はこちらへ" in page
    assert 'type="text"' in client.get("/password/?show=1").get_data(as_text=True)
    done = change(client, "taro1234", "Hana%2026")
    assert "<h1>POP アカウントパスワード変更完了</h1>" in done
    with store.read() as session:
        assert accounts.authenticate(session, "taro@example.jp", "taro1234") is None
        assert accounts.authenticate(session, "taro@example.jp", "Hana%2026") is not None


@pytest.mark.parametrize(
    ("current", "new", "again", "message"),
    [
        (
            "taro1234",
            "abc12",
            None,
            "パスワードが短すぎます。6 文字以上にしてください（現在 5 文字）。",
        ),
        (
            "taro1234",
            "a" * 32 + "1",
            None,
            "パスワードが長すぎます。32 文字以内にしてください（現在 33 文字）。",
        ),
        (  # far beyond any form limit: still the rule's own message, not a silent page
            "taro1234",
            "a1" * 65,
            None,
            "パスワードが長すぎます。32 文字以内にしてください（現在 130 文字）。",
        ),
        ("x" * 200, "Hana2026", None, "現在の POP アカウントパスワードが正しくありません。"),
        ("taro1234", "abcdefgh", None, "数字（0～9）を 1 文字以上含めてください。"),
        ("taro1234", "12345678", None, "英字（a～z、A～Z）を 1 文字以上含めてください。"),
        ("taro1234", "abc 1234", None, "空白は使用できません。"),
        ("taro1234", "abcｄ1234", None, "使用できない文字（ｄ）が含まれています。"),
        ("taro1234", "abc#1234", None, "記号 # は使用できません。"),
        ("wrong999", "Hana2026", None, "現在の POP アカウントパスワードが正しくありません。"),
        (
            "taro1234",
            "Hana2026",
            "Hana2027",
            "新しいパスワードと確認用のパスワードが一致しません。",
        ),
        ("taro1234", "taro1234", None, "新しいパスワードが現在のパスワードと同じです。"),
    ],
)
def test_each_broken_rule_is_named_and_nothing_changes(
    client: FlaskClient, store: Store, current: str, new: str, again: str | None, message: str
) -> None:
    login(client)
    page = change(client, current, new, again)
    assert message in page
    assert "POP アカウントパスワード変更完了" not in page
    with store.read() as session:
        assert accounts.authenticate(session, "taro@example.jp", "taro1234") is not None


def test_a_temporary_password_must_be_changed_before_anything_else(
    client: FlaskClient, store: Store
) -> None:
    with store.transaction() as session:
        created = accounts.add_account(session, "jiro@example.jp")
    assert created.temporary
    page = client.get("/login").get_data(as_text=True)
    answer = client.post(
        "/login",
        data={"address": "jiro@example.jp", "password": created.password, "csrf_token": csrf(page)},
    )
    assert answer.headers["Location"].endswith("/password/")
    for elsewhere in ("/", "/quarantine/", "/reject/from/", "/spam/", "/virus/"):
        refused = client.get(elsewhere)
        assert refused.status_code == 302
        assert refused.headers["Location"].endswith("/password/")
    assert "はじめに仮ログインパスワードを変更してください。" in client.get("/password/").get_data(
        as_text=True
    )
    change(client, created.password, "Jiro2026x")
    assert "メールアカウント情報参照" in client.get("/").get_data(as_text=True)


def test_the_operator_reissues_a_lost_password_as_a_temporary_one(
    client: FlaskClient, store: Store
) -> None:
    result = CliRunner().invoke(
        main, ["--database-url", store.database_url, "account", "reset-password", "taro@example.jp"]
    )
    assert result.exit_code == 0, result.output
    found = re.search(r"new temporary password: (\S+)", result.output)
    assert found is not None
    assert "正しくありません" in login(client, password="taro1234")  # the lost one is gone
    assert "<h1>POP アカウントパスワード変更</h1>" in login(client, password=found.group(1))
    assert client.get("/").headers["Location"].endswith("/password/")  # nothing else first
    change(client, found.group(1), "Taro2027x")
    history = client.get("/history").get_data(as_text=True)
    assert history.index("POP アカウントパスワード変更") < history.index(
        "オペレーターによる仮パスワードの発行"
    )
    with store.read() as session:
        assert accounts.authenticate(session, "taro@example.jp", "Taro2027x") is not None
    missing = CliRunner().invoke(
        main, ["--database-url", store.database_url, "account", "reset-password", "no@example.jp"]
    )
    assert missing.exit_code != 0
    assert "no account no@example.jp" in missing.output
