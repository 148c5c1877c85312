"""What a new customer reads: counts written one way, English in the singular for one, the
spam folder's reasons named as the settings screens are, and help texts that say what the
form does."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient

from sekisho.rules.lists import REJECT_FROM, REJECT_SUBJECT
from sekisho.rules.model import RuleHit
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.forwarding import add_target
from sekisho.store.lists import add_values
from tests.test_quarantine_folder import quarantine
from tests.test_web_auto_reply import rows_on
from tests.test_web_lists import page, submit
from tests.webclient import login


def settings_of_taro(store: Store) -> None:
    with store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        add_target(session, taro, "taro@mobile.example", keep=True)
        add_values(session, taro, REJECT_FROM, ["bad.example", "junk.example"])
        add_values(session, taro, REJECT_SUBJECT, ["未承諾広告"])


def test_the_overview_writes_every_count_the_same_way(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    settings_of_taro(store)
    quarantine(store, mail_root, "caught")
    overview = login(client)
    assert "From（送信者アドレス）：2 件" in overview
    assert "Subject（件名）：1 件" in overview
    assert "<td>1 件</td>" in overview  # 転送設定
    assert "<td>1 通</td>" in overview  # 迷惑メールフォルダ
    assert re.findall(r"\d[件通]", overview) == []


def test_english_counts_one_in_the_singular(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    settings_of_taro(store)
    quarantine(store, mail_root, "caught")
    login(client)
    overview = page(client, "/?lang=en")
    assert "From (sender address): 2 entries" in overview
    assert "Subject: 1 entry<" in overview
    assert "<td>1 entry</td>" in overview
    assert "<td>1 mail</td>" in overview
    assert "1 entry is registered." in page(client, "/reject/subject/")
    assert "The 1 entry of the list will be deleted." in page(client, "/reject/subject/purge")
    assert re.findall(r"\b1 (?:entries|mails)", overview) == []


def test_a_reason_in_the_spam_folder_is_named_as_its_settings_screen(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    quarantine(store, mail_root, "by sender")
    by_subject = RuleHit("reject_subject", "未承諾広告", "未承諾広告です")
    quarantine(store, mail_root, "未承諾広告です", hit=by_subject)
    login(client)
    listing = page(client, "/quarantine/")
    assert "From（送信者アドレス）受信拒否設定：「bad.example」" in listing
    assert "Subject（件名）受信拒否設定：「未承諾広告」" in listing


def test_the_help_says_a_local_part_alone_is_refused(client: FlaskClient) -> None:
    login(client)
    form = page(client, "/reject/from/new")
    assert "アカウント名のみ（「taro@」）はどのアドレスにも一致しないため、登録できません。" in form
    assert "一致しません。" not in form
    assert "アカウント名（@より前）のみのため" in submit(client, "/reject/from", "taro@")


def test_a_blank_form_names_the_field_as_the_screen_does(client: FlaskClient) -> None:
    login(client)
    form = page(client, "/reject/from/new")
    assert "送信者アドレス" in form
    assert "送信者アドレスまたはドメインを 1 行以上入力してください。" in submit(
        client, "/reject/from", "  \n \n"
    )
    assert "送信者アドレスまたはドメインを 1 行以上入力してください。" in submit(
        client, "/allow", "\n"
    )


def test_the_auto_reply_screen_offers_all_ten_senders(client: FlaskClient) -> None:
    login(client)
    form = page(client, "/autoreply/edit")
    assert "送信者は 10 件まで設定できます。" in form
    open_part, closed_part = form.split("<details>")
    assert rows_on(open_part) == 3
    assert "<summary>入力欄を追加（送信者は 10 件まで）</summary>" in closed_part
    assert rows_on(closed_part) == 7
