"""The spam folder page: the list, the safe view, 「受信箱へ戻す」, delete and 「全て削除」,
each changing something only after its confirmation screen's 「了解」 (POST)."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from sekisho.store.db import Store
from tests.test_spamfolder import files, quarantine
from tests.webclient import csrf, hidden, login


def ok(client: FlaskClient, url: str) -> str:
    """「了解」 on the confirmation screen at ``url``."""
    confirm = client.get(url).get_data(as_text=True)
    response = client.post(
        url,
        data={"token": hidden(confirm, "token"), "csrf_token": csrf(confirm)},
        follow_redirects=True,
    )
    return response.get_data(as_text=True)


def test_release_from_the_viewer_puts_the_mail_in_the_inbox_once(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    record_id = quarantine(store, mail_root, "wanted after all")
    login(client)
    listing = client.get("/quarantine/").get_data(as_text=True)
    assert "wanted after all" in listing
    assert "受信箱へ戻す" in listing
    confirm = client.get(f"/quarantine/{record_id}/release").get_data(as_text=True)
    assert "受信箱へ戻す確認" in confirm
    assert len(files(mail_root / "example.jp/taro/.Junk")) == 1  # a link alone changes nothing
    done = ok(client, f"/quarantine/{record_id}/release")
    assert "メールを受信箱へ戻しました。" in done
    assert "受信箱へ戻し済み" in done
    assert len(files(mail_root / "example.jp/taro")) == 1
    assert files(mail_root / "example.jp/taro/.Junk") == []
    again = ok(client, f"/quarantine/{record_id}/release")
    assert "このメールは既に受信箱へ戻しています。" in again
    assert len(files(mail_root / "example.jp/taro")) == 1


def test_the_view_shows_text_and_the_reason(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    record_id = quarantine(store, mail_root, "<b>bold</b>")
    login(client)
    page = client.get(f"/quarantine/{record_id}").get_data(as_text=True)
    assert "From（送信者アドレス）受信拒否設定：「bad.example」" in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<b>bold</b>" not in page


def test_another_mailboxs_copy_is_not_found(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    record_id = quarantine(store, mail_root, "hanako's", "hanako@example.jp")
    login(client)
    assert client.get(f"/quarantine/{record_id}").status_code == 404
    assert client.get(f"/quarantine/{record_id}/release").status_code == 404
    assert client.get(f"/quarantine/{record_id}/delete").status_code == 404
    assert len(files(mail_root / "example.jp/hanako/.Junk")) == 1


def test_delete_one_and_delete_all(client: FlaskClient, store: Store, mail_root: Path) -> None:
    first = quarantine(store, mail_root, "first")
    quarantine(store, mail_root, "second")
    quarantine(store, mail_root, "third")
    login(client)
    assert "メールを削除しました。" in ok(client, f"/quarantine/{first}/delete")
    assert len(files(mail_root / "example.jp/taro/.Junk")) == 2
    confirm = client.get("/quarantine/purge").get_data(as_text=True)
    assert "迷惑メールフォルダの全 2 通を削除します。" in confirm
    done = ok(client, "/quarantine/purge")
    assert "2 通のメールを削除しました。" in done
    assert "迷惑メールフォルダにメールはありません。" in done
    assert files(mail_root / "example.jp/taro/.Junk") == []


def test_delete_all_spares_a_mail_that_came_after_the_confirmation(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    quarantine(store, mail_root, "counted")
    login(client)
    confirm = client.get("/quarantine/purge").get_data(as_text=True)
    assert "迷惑メールフォルダの全 1 通を削除します。" in confirm
    quarantine(store, mail_root, "arrived meanwhile")
    client.post(
        "/quarantine/purge",
        data={"token": hidden(confirm, "token"), "csrf_token": csrf(confirm)},
    )
    (left,) = files(mail_root / "example.jp/taro/.Junk")
    assert b"arrived meanwhile" in left.read_bytes()


def test_a_full_spam_folder_is_shown_50_to_a_page_newest_first(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    for number in range(1, 53):
        quarantine(store, mail_root, f"spam number {number:02d}")
    overview = login(client)
    assert "52 通" in overview
    first = client.get("/quarantine/").get_data(as_text=True)
    assert "2 ページ中 1 ページ目（全 52 通）" in first
    assert "spam number 52" in first  # newest first
    assert "spam number 03" in first
    assert "spam number 02" not in first
    second = client.get("/quarantine/?page=2").get_data(as_text=True)
    assert "spam number 02" in second
    assert "spam number 01" in second
    assert "spam number 03" not in second
    assert "2 ページ中 2 ページ目（全 52 通）" in client.get("/quarantine/?page=9").get_data(
        as_text=True
    )
