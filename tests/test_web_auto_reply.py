"""自動返信設定 through the web UI: the guide's screens, each problem named, the overview."""

from __future__ import annotations

import json
import logging
import re
from datetime import date

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from sekisho.rules.auto_reply import MAX_MESSAGE_CHARS, MAX_SENDER_TEXTS, OFF, AutoReply, SenderText
from sekisho.store import accounts
from sekisho.store.auto_reply import auto_reply
from sekisho.store.db import Store
from sekisho.store.models import SettingsChange
from tests.webclient import csrf, hidden, login

VACATION = {
    "enabled": "y",
    "message": "ただいま休暇中です。\r\n8月20日に戻ります。",
    "starts_on": "2024-08-10",
    "ends_on": "2024-08-20",
    "per_sender-0-pattern": " Boss@Example.COM ",
    "per_sender-0-message": "至急の件は携帯へお電話ください。",
    "per_sender-1-pattern": "",
    "per_sender-1-message": "",
    "per_sender-2-pattern": "client.example",
    "per_sender-2-message": "担当の山田が対応します。",
}
SAVED = AutoReply(
    enabled=True,
    message="ただいま休暇中です。\n8月20日に戻ります。",
    per_sender=(
        SenderText("boss@example.com", "至急の件は携帯へお電話ください。"),
        SenderText("client.example", "担当の山田が対応します。"),
    ),
    starts_on=date(2024, 8, 10),
    ends_on=date(2024, 8, 20),
)


def current(store: Store, address: str = "taro@example.jp") -> AutoReply:
    with store.read() as session:
        return auto_reply(session, accounts.require_account(session, address).id)


def next_step(client: FlaskClient, fields: dict[str, str]) -> str:
    """The 自動返信設定 screen filled in with ``fields`` and 「次へ」 pressed: like a
    browser, it posts every row on the screen, the blank ones too."""
    form = client.get("/autoreply/edit").get_data(as_text=True)
    rows = dict.fromkeys(re.findall(r'name="(per_sender-\d+-(?:pattern|message))"', form), "")
    data = {**rows, **fields, "csrf_token": csrf(form)}
    return client.post("/autoreply/edit", data=data).get_data(as_text=True)


def confirm_data(confirm: str) -> dict[str, str]:
    """What 「登録」 on the 自動返信設定確認 screen posts."""
    return {
        "setting": hidden(confirm, "setting"),
        "token": hidden(confirm, "token"),
        "csrf_token": csrf(confirm),
    }


def overview_state(client: FlaskClient) -> str:
    page = client.get("/").get_data(as_text=True)
    found = re.search(r"自動返信設定</a></th>\s*<td>(.*?)</td>", page)
    assert found, page
    return found.group(1)


def rows_on(form: str) -> int:
    return len(re.findall(r'name="per_sender-\d+-pattern"', form))


def test_the_guide_flow_registers_an_auto_reply(client: FlaskClient, store: Store) -> None:
    login(client)
    assert overview_state(client) == "無効（OFF）"
    listing = client.get("/autoreply/").get_data(as_text=True)
    assert "<h1>自動送信設定一覧参照</h1>" in listing
    assert ">設定</a>" in listing
    form = client.get("/autoreply/edit").get_data(as_text=True)
    assert "<h1>自動返信設定</h1>" in form
    for label in (
        "注意事項",
        "24時間以内",
        "Re: ",
        "有効（ON）",
        "返信メッセージ",
        "開始日",
        "終了日",
    ):
        assert label in form
    assert 'type="date"' in form
    assert rows_on(form) == MAX_SENDER_TEXTS
    assert rows_on(form.split("<details>")[0]) == 3  # the others behind 「入力欄を追加」
    assert ">次へ</button>" in form
    confirm = next_step(client, VACATION)
    assert "<h1>自動返信設定確認</h1>" in confirm
    for shown in ("有効（ON）", "2024/08/10", "2024/08/20", "boss@example.com", "client.example"):
        assert shown in confirm
    assert "ただいま休暇中です。\n8月20日に戻ります。" in confirm
    assert ">登録</button>" in confirm
    assert current(store) == OFF  # nothing saved before 「登録」
    done = client.post("/autoreply/confirm", data=confirm_data(confirm), follow_redirects=True)
    page = done.get_data(as_text=True)
    assert "<h1>自動返信設定完了</h1>" in page
    assert 'href="/autoreply/"' in page
    assert current(store) == SAVED
    listing = client.get("/autoreply/").get_data(as_text=True)
    assert '<pre class="mail">至急の件は携帯へお電話ください。</pre>' in listing
    assert "2024/08/20" in listing
    assert overview_state(client) == "有効（ON）：2024/08/10～2024/08/20"
    history = client.get("/history").get_data(as_text=True)  # 変更履歴
    assert '"設定">自動返信設定：有効</td>' in history


def test_a_change_keeps_the_area_autoreply_in_the_history_and_the_log(
    client: FlaskClient, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The blueprint is auto_reply; the area stored and logged stays "autoreply"."""
    caplog.set_level(logging.INFO, "sekisho.audit")
    login(client)
    client.post("/autoreply/confirm", data=confirm_data(next_step(client, VACATION)))
    with store.read() as session:
        assert session.scalars(select(SettingsChange.area)).all() == ["autoreply"]
    assert "settings_changed address=taro@example.jp area=autoreply " in caplog.text


def test_the_form_shows_what_is_registered(client: FlaskClient, store: Store) -> None:
    login(client)
    client.post("/autoreply/confirm", data=confirm_data(next_step(client, VACATION)))
    form = client.get("/autoreply/edit").get_data(as_text=True)
    assert '<input checked id="enabled"' in form
    assert 'value="2024-08-10"' in form
    assert 'value="boss@example.com"' in form
    assert "担当の山田が対応します。</textarea>" in form
    assert rows_on(form.split("<details>")[0]) == 2 + 3  # the registered rows, three blank


def test_turning_it_off_keeps_the_texts(client: FlaskClient, store: Store) -> None:
    login(client)
    client.post("/autoreply/confirm", data=confirm_data(next_step(client, VACATION)))
    off = {key: value for key, value in VACATION.items() if key not in ("enabled", "starts_on")}
    client.post("/autoreply/confirm", data=confirm_data(next_step(client, off)))
    assert current(store) == AutoReply(False, SAVED.message, SAVED.per_sender, None, SAVED.ends_on)
    assert overview_state(client) == "無効（OFF）"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"enabled": "y", "message": " \r\n "}, "返信メッセージを入力してください。"),
        (
            {"enabled": "y", "message": "あ" * (MAX_MESSAGE_CHARS + 1)},
            "返信メッセージは2001文字です。2000文字以内で入力してください。",
        ),
        (
            {"per_sender-1-pattern": "*.example.com", "per_sender-1-message": "x"},
            "2行目：「*.example.com」に「*」は不要です。",
        ),
        (
            {"per_sender-0-pattern": "boss@example.com", "per_sender-0-message": ""},
            "1行目：「boss@example.com」へのメッセージを入力してください。",
        ),
        (
            {"starts_on": "2024-08-20", "ends_on": "2024-08-10"},
            "終了日が開始日より前になっています。",
        ),
        ({"starts_on": "2024-02-30"}, "開始日が正しい日付ではありません。"),
        ({"ends_on": "next week"}, "終了日が正しい日付ではありません。"),
    ],
)
def test_each_problem_is_named_and_nothing_is_saved(
    client: FlaskClient, store: Store, fields: dict[str, str], problem: str
) -> None:
    login(client)
    page = next_step(client, {"message": "留守にしています。", **fields})
    assert "<h1>自動返信設定</h1>" in page
    assert problem in page
    assert "登録されていません。以下を修正して" in page
    assert 'name="token"' not in page
    assert current(store) == OFF


def test_every_problem_at_once_with_the_entries_kept(client: FlaskClient, store: Store) -> None:
    login(client)
    page = next_step(
        client,
        {
            "enabled": "y",
            "message": "",
            "starts_on": "2024-13-01",
            "per_sender-0-pattern": "boss@example.com",
            "per_sender-0-message": "<b>至急</b>",
            "per_sender-2-pattern": "BOSS@example.com",
            "per_sender-2-message": "",
        },
    )
    for problem in (
        "返信メッセージを入力してください。",
        "開始日が正しい日付ではありません。",
        "3行目：「BOSS@example.com」は他の行と重複しています。",
        "3行目：「BOSS@example.com」へのメッセージを入力してください。",
    ):
        assert problem in page
    assert 'value="2024-13-01"' in page
    assert 'value="BOSS@example.com"' in page
    assert "&lt;b&gt;至急&lt;/b&gt;</textarea>" in page
    assert current(store) == OFF


def test_a_used_stale_or_altered_confirmation_saves_nothing(
    client: FlaskClient, store: Store
) -> None:
    login(client)
    first = confirm_data(next_step(client, VACATION))
    client.post("/autoreply/confirm", data=first)
    assert current(store) == SAVED
    second = confirm_data(next_step(client, {"message": "別の文面"}))
    again = client.post("/autoreply/confirm", data=first, follow_redirects=True)
    assert "この画面は既に無効になっていたため、何も変更されていません。" in again.get_data(
        as_text=True
    )
    assert current(store) == SAVED
    altered = json.loads(second["setting"])
    altered["message"] = "書き換えた文面"
    answer = client.post(
        "/autoreply/confirm", data={**second, "setting": json.dumps(altered)}, follow_redirects=True
    )
    assert "この画面は既に無効" in answer.get_data(as_text=True)
    assert current(store) == SAVED


def test_the_longest_setting_goes_through(client: FlaskClient, store: Store) -> None:
    """Ten per-sender texts and the default, each the longest allowed: the confirmation
    screen carries them (the session cookie could not; a warning would fail this test)."""
    login(client)
    text = "休" * MAX_MESSAGE_CHARS
    fields = {"enabled": "y", "message": text}
    for row in range(MAX_SENDER_TEXTS):
        fields[f"per_sender-{row}-pattern"] = f"sender{row}.example"
        fields[f"per_sender-{row}-message"] = text
    fields["per_sender-10-pattern"] = "one-too-many.example"  # not on the screen: dropped
    fields["per_sender-10-message"] = text
    client.post("/autoreply/confirm", data=confirm_data(next_step(client, fields)))
    saved = current(store)
    assert saved.message == text
    assert [entry.pattern for entry in saved.per_sender] == [
        f"sender{row}.example" for row in range(MAX_SENDER_TEXTS)
    ]
    assert rows_on(client.get("/autoreply/edit").get_data(as_text=True)) == MAX_SENDER_TEXTS


def test_user_text_is_escaped_and_keeps_its_line_breaks(client: FlaskClient) -> None:
    login(client)
    confirm = next_step(client, {"message": "<script>alert(1)</script>\r\n二行目"})
    assert "<script>alert" not in confirm
    assert '<pre class="mail">&lt;script&gt;alert(1)&lt;/script&gt;\n二行目</pre>' in confirm
    client.post("/autoreply/confirm", data=confirm_data(confirm))
    listing = client.get("/autoreply/").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\n二行目" in listing


def test_the_overview_names_the_days(client: FlaskClient) -> None:
    login(client)
    for dates, state in (
        ({"starts_on": "2024-08-10"}, "有効（ON）：2024/08/10 から"),
        ({"ends_on": "2024-08-20"}, "有効（ON）：2024/08/20 まで"),
        ({}, "有効（ON）"),
    ):
        fields = {"enabled": "y", "message": "留守にしています。", **dates}
        client.post("/autoreply/confirm", data=confirm_data(next_step(client, fields)))
        assert overview_state(client) == state


def test_the_screens_in_english(client: FlaskClient) -> None:
    login(client)
    form = client.get("/autoreply/edit?lang=en").get_data(as_text=True)
    assert "<h1>Auto-reply settings</h1>" in form
    for label in ("Notes", "Enabled (ON)", "Reply message", "Start date", ">Next</button>"):
        assert label in form
    page = next_step(client, {"enabled": "y", "message": "", "ends_on": "soon"})
    assert "Enter the reply message." in page
    assert "The end date is not a valid date." in page
    assert "Auto-reply settings overview" in client.get("/autoreply/").get_data(as_text=True)
    assert "Disabled (OFF)" in client.get("/").get_data(as_text=True)
