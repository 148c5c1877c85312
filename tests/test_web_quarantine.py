"""The spam folder page: the list, the safe view, 「ヘッダーとソースを表示」, 「受信箱へ戻す」,
「受信箱へ戻して送信者を許可」, delete and 「全て削除」, each changing something only after
its confirmation screen's 「了解」 (POST)."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient

from sekisho.rules.lists import ALLOW_FROM
from sekisho.store.db import Store
from sekisho.store.lists import add_values
from tests.test_quarantine_folder import files, quarantine, taro
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


def test_release_and_allow_moves_the_mail_and_adds_its_from_address(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    raw = b"From: Shop <News@Shop.example>\nSubject: wanted\n\nHello.\n"
    record_id = quarantine(store, mail_root, "wanted", raw=raw, sender="bounce@mailer.example")
    login(client)
    view = client.get(f"/quarantine/{record_id}").get_data(as_text=True)
    assert "受信箱へ戻して送信者を許可" in view
    assert "ヘッダーとソースを表示" in view
    confirm = client.get(f"/quarantine/{record_id}/release-allow").get_data(as_text=True)
    assert "<h1>受信箱へ戻して送信者を許可確認</h1>" in confirm
    assert "<th>許可する送信者</th><td>news@shop.example<br>" in confirm
    assert "このメールの From のアドレス" in confirm
    assert "了解" in confirm
    assert len(files(mail_root / "example.jp/taro/.Junk")) == 1  # a link alone changes nothing
    done = ok(client, f"/quarantine/{record_id}/release-allow")
    assert "メールを受信箱へ戻しました。" in done
    assert "「news@shop.example」を受信許可設定に追加しました。" in done
    assert files(mail_root / "example.jp/taro/.Junk") == []
    assert len(files(mail_root / "example.jp/taro")) == 1
    assert "news@shop.example" in client.get("/allow/").get_data(as_text=True)
    history = client.get("/history").get_data(as_text=True)
    assert "受信許可設定" in history


def test_a_sender_already_allowed_is_said_so_and_the_mail_released(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    with store.transaction() as session:
        add_values(session, taro(store), ALLOW_FROM, ["bad.example"])
    record_id = quarantine(store, mail_root, "caught before the entry")
    login(client)
    confirm = client.get(f"/quarantine/{record_id}/release-allow").get_data(as_text=True)
    assert "「x@bad.example」は受信許可設定の「bad.example」で既に許可されています。" in confirm
    done = ok(client, f"/quarantine/{record_id}/release-allow")
    assert "メールを受信箱へ戻しました。" in done
    assert "「x@bad.example」は受信許可設定の「bad.example」で許可されています。" in done
    assert "1 件登録されています。" in client.get("/allow/").get_data(as_text=True)
    assert len(files(mail_root / "example.jp/taro")) == 1


def test_a_sender_the_allow_list_refuses_leaves_the_mail_where_it_is(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    raw = b"From: x@-bad-.example\nSubject: odd\n\nHello.\n"
    record_id = quarantine(store, mail_root, "odd", raw=raw)
    nobody = quarantine(store, mail_root, "nobody", raw=b"Subject: nobody\n\nHi.\n", sender="")
    login(client)
    confirm = client.get(f"/quarantine/{record_id}/release-allow").get_data(as_text=True)
    assert (
        "送信者を受信許可設定に追加できないため、このメールは迷惑メールフォルダに残ります。"
        in confirm
    )
    assert "1行目：「x@-bad-.example」" in confirm  # the allow list screen's own message
    assert 'name="token"' not in confirm  # no 「了解」 to press
    assert f'href="/quarantine/{record_id}/release">受信箱へ戻す</a>' in confirm
    empty = client.get(f"/quarantine/{nobody}/release-allow").get_data(as_text=True)
    assert "このメールには送信者のアドレスがないため、許可するアドレスがありません。" in empty
    assert len(files(mail_root / "example.jp/taro/.Junk")) == 2
    assert "受信許可しているアドレスはありません。" in client.get("/allow/").get_data(as_text=True)


def test_without_a_from_address_the_envelope_sender_is_allowed(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    raw = b"Subject: no from\n\nHello.\n"
    record_id = quarantine(store, mail_root, "no from", raw=raw, sender="list@lists.example")
    login(client)
    confirm = client.get(f"/quarantine/{record_id}/release-allow").get_data(as_text=True)
    assert "<th>許可する送信者</th><td>list@lists.example<br>" in confirm
    assert "エンベロープの送信者（このメールには From のアドレスがありません）" in confirm


def test_the_source_is_escaped_text_and_cut_when_long(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    html = b'<html><img src="http://tracker.example/p.png"><script>alert(1)</script></html>'
    raw = b"From: x@bad.example\nSubject: html\nContent-Type: text/html\n\n" + html + b"\n"
    record_id = quarantine(store, mail_root, "html", raw=raw)
    filler = b"From: x@bad.example\nSubject: long\n\n" + b"spam spam spam\n" * 40_000
    long_id = quarantine(store, mail_root, "long", raw=filler)
    login(client)
    page = client.get(f"/quarantine/{record_id}/source").get_data(as_text=True)
    assert "<h1>ヘッダーとソース</h1>" in page
    assert "Content-Type: text/html" in page
    assert "X-Sekisho-Quarantine-Reason:" in page  # as received, the trace fields too
    assert "&lt;img src=&#34;http://tracker.example/p.png&#34;&gt;" in page
    assert "<img" not in page
    assert "<script>" not in page
    assert "最初の" not in page
    long = client.get(f"/quarantine/{long_id}/source").get_data(as_text=True)
    whole = re.search(
        r"このメールは最初の 256 KB だけを表示しています（メール全体は (\d+) KB）。", long
    )
    assert whole is not None
    assert int(whole.group(1)) > 256
    assert long.count("spam spam spam") < 256 * 1024 // 15 + 1


def test_the_new_buttons_in_english_and_another_mailboxs_copy(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    record_id = quarantine(store, mail_root, "english")
    hanakos = quarantine(store, mail_root, "hanako's", "hanako@example.jp")
    login(client)
    view = client.get(f"/quarantine/{record_id}?lang=en").get_data(as_text=True)
    assert "Move back and allow the sender" in view
    assert "Show header and source" in view
    confirm = client.get(f"/quarantine/{record_id}/release-allow").get_data(as_text=True)
    assert "<h1>Move back and allow the sender: confirmation</h1>" in confirm
    assert client.get(f"/quarantine/{hanakos}/source").status_code == 404
    assert client.get(f"/quarantine/{hanakos}/release-allow").status_code == 404
