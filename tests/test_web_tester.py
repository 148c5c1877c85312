"""ルールのテスト: a pasted header (or a 受信ログ row) against the mailbox's current settings,
each check of the decision table with its hit or miss and why; nothing stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from sekisho.rules.auto_reply import AutoReply
from sekisho.rules.lists import ALLOW_FROM, REJECT_FROM, REJECT_SUBJECT
from sekisho.rules.model import DELIVER, Message, SpamSetting
from sekisho.store import accounts
from sekisho.store.auto_reply import set_auto_reply
from sekisho.store.db import Store
from sekisho.store.delivery_log import DeliveryLog, Mailed
from sekisho.store.forwarding import add_target
from sekisho.store.lists import add_values
from sekisho.store.models import DeliveryLogEntry
from sekisho.store.spam_settings import set_spam_setting
from sekisho.store.virus_settings import set_virus_scan
from tests.webclient import csrf, login

HEADER = "From: Shop <news@bad.example>\nSubject: セール\nMessage-ID: <1@bad.example>\n"


def settle(store: Store, address: str = "taro@example.jp", **lists: list[str]) -> int:
    with store.transaction() as session:
        account_id = accounts.require_account(session, address).id
        for kind in (ALLOW_FROM, REJECT_FROM, REJECT_SUBJECT):
            if kind.name in lists:
                add_values(session, account_id, kind, lists[kind.name])
    return account_id


def tried(client: FlaskClient, header: str, sender: str = "", lang: str = "") -> str:
    page = client.get("/rules/test" + (f"?lang={lang}" if lang else "")).get_data(as_text=True)
    response = client.post(
        "/rules/test", data={"header": header, "sender": sender, "csrf_token": csrf(page)}
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def rows(page: str) -> list[tuple[str, str, str]]:
    """(check, result, why) of each row of the table of checks, tags dropped."""
    body = page.split("<tbody>")[-1].split("</tbody>")[0]
    found = []
    for row in re.findall(r"<tr class=\"\w+\">(.*?)</tr>", body, re.DOTALL):
        cells = [
            re.sub(r"<[^>]+>", " ", cell).split()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
        ]
        found.append(tuple(" ".join(words) for words in cells))
    return found  # type: ignore[return-value]


def result(page: str, heading: str) -> str:
    found = re.search(rf"<th>{re.escape(heading)}</th><td[^>]*>(.*?)</td>", page, re.DOTALL)
    assert found, page
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_the_overview_and_the_list_pages_link_to_the_tester(client: FlaskClient) -> None:
    overview = login(client)
    assert 'href="/rules/test">ルールのテスト</a>' in overview
    for path in ("/reject/from/", "/reject/subject/", "/allow/"):
        assert 'href="/rules/test">ルールのテスト</a>' in client.get(path).get_data(as_text=True)
    page = client.get("/rules/test").get_data(as_text=True)
    assert "<h1>ルールのテスト</h1>" in page
    assert "メールのヘッダー" in page
    assert "エンベロープの送信者（MAIL FROM）" in page
    assert "テストする" in page


def test_a_reject_entry_decides_and_every_row_says_why(client: FlaskClient, store: Store) -> None:
    settle(store, allow_from=["friend.example"], reject_from=["bad.example"])
    login(client)
    page = tried(client, HEADER)
    assert result(page, "メールの行き先") == "迷惑メールフォルダ"
    assert result(page, "決め手") == "From（送信者アドレス）受信拒否設定：「bad.example」"
    assert rows(page) == [
        ("ウィルススキャン設定", "不一致", "このアドレスのウィルススキャン設定は無効（OFF）です。"),
        ("受信許可設定", "不一致", "一致する登録はありません。"),
        (
            "From（送信者アドレス）受信拒否設定",
            "一致",
            "From（送信者アドレス）受信拒否設定：「bad.example」 一致した値：news@bad.example",
        ),
        (
            "Subject（件名）受信拒否設定",
            "確認されず",
            "前の確認で決まったため、この確認は行われません。",
        ),
        ("ヘッダー受信拒否設定", "確認されず", "前の確認で決まったため、この確認は行われません。"),
        (
            "迷惑メールスキャン設定（迷惑メール隔離：有効）",
            "確認されず",
            "前の確認で決まったため、この確認は行われません。",
        ),
        (
            "迷惑メールスキャン設定（迷惑メール隔離：無効、件名に[spam]）",
            "確認されず",
            "前の確認で決まったため、この確認は行われません。",
        ),
    ]
    assert "ウイルスと迷惑メールの判定はメール全体のスキャンで決まるため" in page
    assert result(page, "使用したエンベロープの送信者") == "news@bad.example"


def test_the_allow_list_comes_first_and_the_spam_verdict_then_changes_nothing(
    client: FlaskClient, store: Store
) -> None:
    account_id = settle(store, allow_from=["bad.example"], reject_subject=["セール"])
    with store.transaction() as session:
        set_spam_setting(session, account_id, SpamSetting(enabled=True))
    login(client)
    page = tried(client, HEADER)
    assert result(page, "メールの行き先") == "受信箱"
    assert result(page, "決め手") == "受信許可設定：「bad.example」"
    assert rows(page)[1][1] == "一致"
    assert rows(page)[3][1] == "確認されず"  # the subject entry would have caught it
    assert result(page, "迷惑メールと判定された場合") == (
        "変わりません（迷惑メールスキャンより前の確認で決まります）。"
    )


@pytest.mark.parametrize(
    ("quarantine", "if_spam", "deciding_row"),
    [(True, "迷惑メールフォルダ", 5), (False, "[spam]付きで受信箱", 6)],
)
def test_the_spam_rows_say_what_the_setting_would_do_with_a_verdict(
    client: FlaskClient, store: Store, quarantine: bool, if_spam: str, deciding_row: int
) -> None:
    account_id = settle(store)
    with store.transaction() as session:
        set_spam_setting(session, account_id, SpamSetting(enabled=True, quarantine=quarantine))
        set_virus_scan(session, account_id, True)
    login(client)
    page = tried(client, HEADER)
    assert result(page, "メールの行き先") == "受信箱"
    assert result(page, "決め手") == "ヘッダーで該当する設定はありません。"
    assert result(page, "迷惑メールと判定された場合") == if_spam
    assert result(page, "ウイルスが見つかった場合") == (
        "ウイルス削除（ほかのどの設定よりも優先され、お知らせのメールが届きます）。"
    )
    found = rows(page)
    assert found[0][1:] == (
        "スキャン次第",
        "ウイルスが見つかった場合は、この確認で決まります：ウイルス削除。",
    )
    assert found[deciding_row][1:] == (
        "スキャン次第",
        f"迷惑メールと判定された場合は、この確認で決まります：{if_spam}。",
    )
    other = found[11 - deciding_row]
    assert other[1] == "不一致"
    assert other[2].startswith("迷惑メール隔離が")


def test_the_envelope_sender_is_the_header_from_unless_given(
    client: FlaskClient, store: Store
) -> None:
    settle(store, reject_from=["bounce.example"])
    login(client)
    assert result(tried(client, HEADER), "メールの行き先") == "受信箱"
    page = tried(client, HEADER, sender="<list-bounce@bounce.example>")
    assert result(page, "メールの行き先") == "迷惑メールフォルダ"
    assert "一致した値：list-bounce@bounce.example" in page
    assert (
        result(tried(client, "Subject: none\n", sender="<>"), "使用したエンベロープの送信者")
        == "&lt;&gt;"
    )


def test_a_whole_pasted_mail_is_read_up_to_its_body(client: FlaskClient, store: Store) -> None:
    settle(store, reject_subject=["本文だけ"])
    login(client)
    page = tried(client, "Return-Path: <a@b.example>\r\n" + HEADER + "\r\n本文だけ\r\n")
    assert result(page, "メールの行き先") == "受信箱"
    stopped = tried(client, "Subject: hello\nthis is no field\nFrom: x@bad.example\n")
    assert "ヘッダーの項目ではない行があったため、その手前までの項目でテストしました。" in stopped


def test_what_cannot_be_tested_is_named_by_its_field(client: FlaskClient) -> None:
    login(client)
    big = tried(client, "Subject: x\n" + "X-Filler: " + "a" * 70_000 + "\n")
    assert "「メールのヘッダー」は 64 KB までです（貼り付けられたのは 69 KB）。" in big
    assert "メールの行き先" not in big
    nothing = tried(client, "no header at all")
    assert "「メールのヘッダー」からヘッダーを読み取れませんでした。" in nothing
    bad = tried(client, HEADER, sender="two words")
    assert "「エンベロープの送信者（MAIL FROM）」にはメールアドレスを 1 つ入力してください" in bad
    assert "Message-ID: &lt;1@bad.example&gt;" in bad  # what was pasted stays in the form


def test_a_delivery_log_row_fills_a_from_and_subject_and_says_so(
    client: FlaskClient, store: Store
) -> None:
    account_id = settle(store, reject_subject=["セール"])
    hanako = settle(store, "hanako@example.jp")
    log = DeliveryLog(store)
    at = datetime(2024, 2, 1, tzinfo=UTC)
    message = Message("news@shop.example", (("Subject", "夏のセール"),))
    log.record(Mailed(at, message, "k", "Q1", ((account_id, DELIVER), (hanako, DELIVER))))
    log.flush()
    with store.read() as session:
        ids = {row.account_id: row.id for row in session.query(DeliveryLogEntry)}
    login(client)
    assert f'href="/rules/test?log={ids[account_id]}"' in client.get("/log/").get_data(as_text=True)
    page = client.get(f"/rules/test?log={ids[account_id]}").get_data(as_text=True)
    assert "このヘッダーは受信ログから作ったものです。" in page
    assert "From: news@shop.example\nSubject: 夏のセール\n</textarea>" in page
    assert result(page, "メールの行き先") == "迷惑メールフォルダ"
    assert result(page, "決め手") == "Subject（件名）受信拒否設定：「セール」"
    assert client.get(f"/rules/test?log={ids[hanako]}").status_code == 404


def test_in_english(client: FlaskClient, store: Store) -> None:
    settle(store, reject_from=["bad.example"])
    login(client)
    page = tried(client, HEADER, lang="en")
    assert "<h1>Rule tester</h1>" in page
    assert result(page, "Where the mail goes") == "Spam folder"
    assert result(page, "Deciding check") == "From reject list: “bad.example”"
    assert rows(page)[0] == (
        "Virus scan settings",
        "No match",
        "The virus scan is off for this address.",
    )
    assert rows(page)[3][1] == "Not checked"


def test_nothing_is_tested_without_the_forms_token(client: FlaskClient) -> None:
    login(client)
    response = client.post("/rules/test", data={"header": HEADER})
    assert response.status_code == 400
    assert "メールの行き先" not in response.get_data(as_text=True)


def test_a_delivered_mail_shows_its_forwarding_and_auto_reply(
    client: FlaskClient, store: Store
) -> None:
    account_id = settle(store)
    with store.transaction() as session:
        add_target(session, account_id, "taro@another.example", keep=True)
        set_auto_reply(session, account_id, AutoReply(enabled=True, message="留守です。"))
    login(client)
    page = tried(client, "From: friend@ok.example\nTo: taro@example.jp\nSubject: hi\n")
    assert result(page, "メールの行き先") == "受信箱"
    assert result(page, "転送") == "転送先：taro@another.example"
    assert result(page, "自動返信") == "自動返信します（同じ送信者へは 24 時間に 1 回まで）"
    listed = tried(client, "From: list@ok.example\nTo: taro@example.jp\nList-Id: <l.ok.example>\n")
    assert "<th>自動返信</th>" not in listed  # never to a mailing list
