"""変更履歴 says what each change did — the entries added or deleted, a switch's new
state, the sections an operator imported — in Japanese and English; a row from before
details were kept names its screen only."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime

from click.testing import CliRunner
from flask.testing import FlaskClient

from sekisho.cli import main
from sekisho.rules.lists import REJECT_FROM
from sekisho.store import accounts, audit
from sekisho.store.audit import DETAIL_VALUES, VALUE_CHARS, ChangeDetail, ChangeKind
from sekisho.store.db import Store
from sekisho.store.forwarding import targets
from tests.test_web_lists import entry_ids, page, post, register, seed, submit
from tests.webclient import csrf, hidden, login

FROM_LIST = "/reject/from"


def history(client: FlaskClient, lang: str = "ja") -> str:
    return html.unescape(page(client, f"/history?lang={lang}"))


def taro_id(store: Store) -> int:
    with store.read() as session:
        return accounts.require_account(session, "taro@example.jp").id


def add_and_delete_a_from_entry(client: FlaskClient) -> None:
    register(client, FROM_LIST, submit(client, FROM_LIST, "bad.example"))
    listing = page(client, f"{FROM_LIST}/")
    confirm = post(
        client, f"{FROM_LIST}/delete", listing, entry=[entry_ids(listing)["bad.example"]]
    )
    post(client, f"{FROM_LIST}/delete/confirm", confirm, token=hidden(confirm, "token"))


def add_and_delete_a_forwarding_address(client: FlaskClient, store: Store) -> None:
    form = page(client, "/forward/new")
    confirm = client.post(
        "/forward/new",
        data={"address": "jiro@mobile.example", "keep": "keep", "csrf_token": csrf(form)},
    ).get_data(as_text=True)
    post(client, "/forward/confirm", confirm, token=hidden(confirm, "token"))
    with store.read() as session:
        (target_id,) = [target.id for target in targets(session, taro_id(store))]
    ask = page(client, f"/forward/{target_id}/delete")
    post(client, f"/forward/{target_id}/delete", ask, token=hidden(ask, "token"))


def switch_the_virus_scan_on(client: FlaskClient) -> None:
    confirm = page(client, "/virus/")
    post(client, "/virus/", confirm, token=hidden(confirm, "token"))


def test_each_change_says_what_was_added_deleted_or_switched(
    client: FlaskClient, store: Store
) -> None:
    login(client)
    add_and_delete_a_from_entry(client)
    add_and_delete_a_forwarding_address(client, store)
    switch_the_virus_scan_on(client)
    ja = history(client)
    said = [
        "ウィルススキャン設定：有効",
        "転送設定：jiro@mobile.example を削除",
        "転送設定：jiro@mobile.example を登録",
        "From（送信者アドレス）受信拒否設定：bad.example を削除",
        "From（送信者アドレス）受信拒否設定：bad.example を登録",
    ]
    assert [ja.index(text) for text in said] == sorted(ja.index(text) for text in said)
    en = history(client, "en")
    for text in (
        "Virus scan settings: Enabled",
        "Forwarding settings: jiro@mobile.example deleted",
        "Forwarding settings: jiro@mobile.example added",
        "From (sender address) reject settings: bad.example deleted",
        "From (sender address) reject settings: bad.example added",
    ):
        assert text in en


def test_the_spam_and_header_switches_say_their_new_state(
    client: FlaskClient, store: Store
) -> None:
    login(client)
    post(client, "/spam/terms", page(client, "/spam/terms"))
    form = page(client, "/spam/new")
    confirm = post(client, "/spam/new", form, enabled="on", quarantine="off", notify="on")
    post(client, "/spam/confirm", confirm, token=hidden(confirm, "token"))
    form = page(client, "/reject/header/new")
    confirm = post(client, "/reject/header/new", form, from_missing="y")
    post(client, "/reject/header/confirm", confirm, token=hidden(confirm, "token"))
    ja = history(client)
    assert (
        "迷惑メールスキャン設定：迷惑メールスキャン 有効、迷惑メール隔離 無効、隔離メール通知 有効"
        in ja
    )
    assert "ヘッダー受信拒否設定：From：ヘッダ自体が存在しない<" in ja
    en = history(client, "en")
    assert (
        "Spam scan settings: Spam scan Enabled, Spam quarantine Disabled, "
        "Quarantine notice Enabled" in en
    )
    assert "Header reject settings: From: the header itself is missing<" in en


def test_many_entries_are_named_up_to_the_cap_and_delete_all_by_count(
    client: FlaskClient, store: Store
) -> None:
    login(client)
    many = [f"spam{number:02}.example" for number in range(DETAIL_VALUES + 3)]
    seed(store, REJECT_FROM, many)
    purge = page(client, f"{FROM_LIST}/purge")
    final = post(client, f"{FROM_LIST}/purge/confirm", purge, token=hidden(purge, "token"))
    post(client, f"{FROM_LIST}/purge/final", final, token=hidden(final, "token"))
    assert "From（送信者アドレス）受信拒否設定：全て削除（13 件）" in history(client)
    assert "From (sender address) reject settings: Deleted all (13 entries)" in history(
        client, "en"
    )
    with store.transaction() as session:
        detail = ChangeDetail(ChangeKind.ADDED, tuple(many))
        audit.record_change(session, taro_id(store), "reject_from", "192.0.2.1", _now(), detail)
    assert "spam09.example ほか 3 件 を登録" in history(client)
    assert "spam09.example and 3 more added" in history(client, "en")


def test_a_stored_detail_is_capped() -> None:
    detail = ChangeDetail(ChangeKind.ADDED, ("x" * 400, *[f"{n}.example" for n in range(20)]))
    stored = json.loads(detail.to_json())
    assert len(stored["values"]) == DETAIL_VALUES
    assert stored["values"][0] == "x" * VALUE_CHARS
    assert stored["count"] == 21
    assert ChangeDetail.from_json(detail.to_json()) == ChangeDetail(
        ChangeKind.ADDED, tuple(stored["values"]), 21
    )
    assert ChangeDetail.from_json('{"kind": "renamed", "values": [], "count": 0}') is None


def test_an_old_row_names_its_screen_and_an_import_names_its_sections(
    client: FlaskClient, store: Store
) -> None:
    with store.transaction() as session:
        audit.record_change(session, taro_id(store), "virus", "192.0.2.1", _now())
    document = {"reject_from": ["bad.example"], "virus_scan": True}
    result = CliRunner().invoke(
        main,
        ["--database-url", store.database_url, "settings", "import", "taro@example.jp", "-"],
        input=json.dumps(document),
    )
    assert result.exit_code == 0, result.output
    login(client)
    ja = history(client)
    assert (
        "管理者による設定の取り込み：From（送信者アドレス）受信拒否設定、ウィルススキャン設定" in ja
    )
    assert ">ウィルススキャン設定</td>" in ja  # the old row: its screen only
    en = history(client, "en")
    assert (
        "Settings imported by the operator: From (sender address) reject settings, "
        "Virus scan settings" in en
    )


def test_the_operators_history_command_prints_the_same_details(
    client: FlaskClient, store: Store
) -> None:
    with store.transaction() as session:
        audit.record_change(session, taro_id(store), "virus", "192.0.2.1", _now())
    login(client)
    add_and_delete_a_from_entry(client)
    switch_the_virus_scan_on(client)
    result = CliRunner().invoke(
        main, ["--database-url", store.database_url, "history", "taro@example.jp"]
    )
    assert result.exit_code == 0, result.output
    changes = [
        (event["area"], event["detail"])
        for event in map(json.loads, result.output.splitlines())
        if event["event"] == "change"
    ]
    assert changes == [
        ("virus", {"kind": "set", "values": ["enabled"], "count": 1}),
        ("reject_from", {"kind": "removed", "values": ["bad.example"], "count": 1}),
        ("reject_from", {"kind": "added", "values": ["bad.example"], "count": 1}),
        ("virus", None),  # from before details were kept
    ]


def _now() -> datetime:
    return datetime.now(UTC)
