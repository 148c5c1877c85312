"""One mailbox can never read or change another's anything: not by URL, not by a form
field carrying the other's ids."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select

from sekisho.rules.auto_reply import AutoReply, SenderText
from sekisho.rules.lists import REJECT_FROM
from sekisho.store import accounts
from sekisho.store.auto_reply import auto_reply, set_auto_reply
from sekisho.store.db import Store
from sekisho.store.lists import add_values, export_rows
from sekisho.store.models import ListEntryRecord
from tests.test_quarantine_folder import files, quarantine
from tests.test_web_auto_reply import confirm_data, next_step
from tests.webclient import csrf, login


def hanako_id(store: Store) -> int:
    with store.read() as session:
        return accounts.require_account(session, "hanako@example.jp").id


def test_another_mailboxs_list_entries_cannot_be_deleted_by_id(
    client: FlaskClient, store: Store
) -> None:
    with store.transaction() as session:
        add_values(session, hanako_id(store), REJECT_FROM, ["hanako-only.example"])
        entry_id = session.scalar(select(ListEntryRecord.id))
    page = login(client)
    listing = client.get("/reject/from/").get_data(as_text=True)
    assert "hanako-only.example" not in listing
    answer = client.post(
        "/reject/from/delete",
        data={"entry": str(entry_id), "csrf_token": csrf(page)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "hanako-only.example" not in answer
    with store.read() as session:
        rows = export_rows(session, hanako_id(store), REJECT_FROM)
    assert [row[0] for row in rows] == ["hanako-only.example"]
    assert "hanako-only.example" not in client.get("/reject/from/export.csv").get_data(as_text=True)


def test_another_mailboxs_spam_folder_is_not_found(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    record_id = quarantine(store, mail_root, "hanako's secret", "hanako@example.jp")
    login(client)
    assert "hanako's secret" not in client.get("/quarantine/").get_data(as_text=True)
    for url in (f"/quarantine/{record_id}", f"/quarantine/{record_id}/release"):
        assert client.get(url).status_code == 404
    assert len(files(mail_root / "example.jp/hanako/.Junk")) == 1


def test_another_mailboxs_auto_reply_can_be_neither_seen_nor_registered(
    client: FlaskClient, store: Store
) -> None:
    hanako = AutoReply(True, "hanako's away text", (SenderText("friend.example", "hanako's note"),))
    with store.transaction() as session:
        set_auto_reply(session, hanako_id(store), hanako)
    other = FlaskClient(client.application, use_cookies=True)
    login(other, "hanako@example.jp", "hanako123")
    hanakos_step = confirm_data(next_step(other, {"enabled": "y", "message": "hanako's new text"}))
    login(client)
    for url in ("/", "/autoreply/", "/autoreply/edit"):
        page = client.get(url).get_data(as_text=True)
        assert "hanako's" not in page
        assert "friend.example" not in page
    # Hanako's confirmation posted in Taro's session: its token is not Taro's.
    page = client.get("/autoreply/").get_data(as_text=True)
    answer = client.post(
        "/autoreply/confirm",
        data={**hanakos_step, "csrf_token": csrf(page)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "この画面は既に無効" in answer
    client.post("/autoreply/confirm", data=confirm_data(next_step(client, {"message": "taro's"})))
    with store.read() as session:
        assert auto_reply(session, hanako_id(store)) == hanako
        taro = accounts.require_account(session, "taro@example.jp").id
        assert auto_reply(session, taro) == AutoReply(message="taro's")
