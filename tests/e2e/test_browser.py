"""The From list added through a real browser (Debian's chromium, headless, Playwright)
changes what the running milter does for the next mail, with nothing restarted."""

from __future__ import annotations

import email.policy
import re
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from sekisho.devstack.spam import RspamdInstance
from sekisho.rules.lists import REJECT_SUBJECT
from sekisho.store import accounts
from sekisho.store.lists import add_values, values
from tests.chromium import chromium
from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_mailflow import import_settings
from tests.e2e.test_spam_mailflow import GTUBE

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def web_stack(run_root: Path) -> Iterator[MailHarness]:
    yield from start_harness(run_root / "browser", with_web=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="ja-JP")
    opened = context.new_page()
    yield opened
    context.close()


def log_in(page: Page, mail: MailHarness) -> None:
    page.goto(mail.stack.web_url + "/login")
    expect(page.locator("h1")).to_have_text("メールアドレスログイン")
    page.get_by_label("メールアドレス", exact=True).fill("taro@example.jp")
    page.get_by_label("POP アカウントパスワード").fill("taro1234")
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator("h1")).to_have_text("メールアカウント情報参照")


def test_rule_added_in_the_browser_applies_to_the_next_mail(
    web_stack: MailHarness, page: Page
) -> None:
    mail = web_stack
    mail.reset()
    mail.add_account("taro@example.jp", "taro1234")
    mail.add_account("hanako@example.jp", "hanako123")
    mail.send("someone@bad.example", ["taro@example.jp"], subject="before the rule")
    mail.wait_for_files("example.jp/taro/new")

    log_in(page, mail)

    page.get_by_role("link", name="受信拒否設定", exact=True).click()
    expect(page.locator("h1")).to_have_text("受信拒否設定選択")
    page.get_by_role("link", name="From（送信者アドレス）").click()
    expect(page.locator("h1")).to_have_text("From（送信者アドレス）受信拒否設定一覧参照")
    page.get_by_role("link", name="設定", exact=True).click()
    expect(page.locator("h1")).to_have_text("From（送信者アドレス）受信拒否設定")
    page.get_by_label("送信者アドレス").fill("bad.example\n")
    page.get_by_role("button", name="次へ").click()
    expect(page.locator("h1")).to_have_text("From（送信者アドレス）受信拒否設定確認")
    expect(page.locator("td", has_text="bad.example")).to_be_visible()
    page.get_by_role("button", name="登録").click()
    expect(page.locator("h1")).to_have_text("From（送信者アドレス）受信拒否設定完了")

    mail.send(
        "someone@bad.example", ["taro@example.jp", "hanako@example.jp"], subject="after the rule"
    )
    (copy,) = mail.wait_for_files("example.jp/taro/.Junk/new")
    mail.wait_for_files("example.jp/hanako/new")
    mail.wait_until_delivered()
    assert "Subject: after the rule" in copy.read_text()
    assert len(mail.files()["example.jp/taro/new"]) == 1  # only the mail before the rule


def test_bad_input_in_the_browser_names_the_line(web_stack: MailHarness, page: Page) -> None:
    mail = web_stack
    mail.reset()
    mail.add_account("taro@example.jp", "taro1234")
    log_in(page, mail)
    page.goto(mail.stack.web_url + "/reject/from/new")
    page.get_by_label("送信者アドレス").fill("ok.example\nbad one.example")
    page.get_by_role("button", name="次へ").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "2行目：「bad one.example」に空白が含まれています。"
    )


def test_delete_one_and_delete_all_with_the_guide_labels(
    web_stack: MailHarness, page: Page
) -> None:
    mail = web_stack
    mail.reset()
    mail.add_account("taro@example.jp", "taro1234")
    with mail.store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        add_values(session, taro, REJECT_SUBJECT, ["未承諾広告", "当選しました", "Hello"])
    log_in(page, mail)
    page.get_by_role("link", name="受信拒否設定", exact=True).click()
    page.get_by_role("link", name="Subject（件名）受信拒否設定").click()
    title = "Subject（件名）受信拒否設定"
    expect(page.locator("h1")).to_have_text(f"{title}一覧参照")

    page.get_by_label("未承諾広告").check()
    page.get_by_label("Hello").check()
    delete_buttons = page.get_by_role("button", name="削除", exact=True)
    expect(delete_buttons).to_have_count(2)
    delete_buttons.last.click()  # the bottom one; the top one does the same
    expect(page.locator("h1")).to_have_text(f"{title}削除確認")
    expect(page.locator("td")).to_have_text(["未承諾広告", "Hello"])
    page.get_by_role("button", name="了解").click()
    expect(page.locator("h1")).to_have_text(f"{title}削除完了")
    page.get_by_role("link", name="一覧へ戻る").click()
    expect(page.locator("label")).to_have_text(["当選しました"])

    page.get_by_role("button", name="全て削除").click()
    expect(page.locator("h1")).to_have_text(f"{title}完全削除確認")
    page.get_by_role("button", name="了解").click()
    expect(page.locator("h1")).to_have_text(f"{title}完全削除最終確認")
    page.get_by_role("button", name="了解").click()
    expect(page.locator("h1")).to_have_text(f"{title}完全削除完了")
    page.get_by_role("link", name="一覧へ戻る").click()
    expect(page.get_by_text("登録されている件名はありません。")).to_be_visible()
    with mail.store.read() as session:
        assert values(session, taro, REJECT_SUBJECT) == []


@pytest.fixture(scope="module")
def notice_stack(run_root: Path, rspamd: RspamdInstance) -> Iterator[MailHarness]:
    yield from start_harness(
        run_root / "notice", with_web=True, with_worker=True, spam_engine=rspamd.url
    )


def test_the_quarantine_notice_arrives_and_its_link_releases_the_mail(
    notice_stack: MailHarness, page: Page
) -> None:
    """GTUBE through real Postfix and rspamd is quarantined; the worker's notice comes back
    through Postfix's re-injection listener into the inbox; its link, opened in Chromium,
    changes nothing until the button on the page is pressed, and then the mail is in the
    inbox."""
    mail = notice_stack
    mail.reset()
    mail.add_account("taro@example.jp", "taro1234")
    import_settings(
        mail,
        "taro@example.jp",
        {"spam_scan": {"enabled": True, "quarantine": True, "notify": True}},
    )
    refused = mail.send("shop@ads.example", ["taro@example.jp"], subject="big offer", body=GTUBE)
    assert refused == {}
    mail.wait_for_files("example.jp/taro/.Junk/new")
    (notice_file,) = mail.wait_for_files("example.jp/taro/new")
    notice = message_from_bytes(notice_file.read_bytes(), policy=email.policy.default)
    assert isinstance(notice, EmailMessage)
    assert str(notice["Subject"]).startswith("隔離通知メール（1通）")
    assert notice["Return-Path"] == "<>"
    body = notice.get_content()
    assert "件名: big offer" in body
    assert "送信者: shop@ads.example" in body
    link = re.search(r"受信箱へ戻す: (\S+)", body)
    assert link is not None
    assert link.group(1).startswith(mail.stack.web_url + "/release/")

    page.goto(link.group(1))
    expect(page.locator("h1")).to_have_text("受信箱へ戻す確認")
    expect(page.get_by_text("big offer")).to_be_visible()
    assert len(mail.files()["example.jp/taro/new"]) == 1  # only the notice so far
    page.get_by_role("button", name="受信箱へ戻す").click()
    expect(page.get_by_role("status")).to_have_text("メールを受信箱へ戻しました。")
    inbox = mail.wait_for_files("example.jp/taro/new", count=2)
    assert any(b"Subject: big offer" in path.read_bytes() for path in inbox)
    assert mail.files().get("example.jp/taro/.Junk/new", []) == []


def test_the_first_login_with_the_temporary_password_forces_the_change(
    web_stack: MailHarness, page: Page
) -> None:
    mail = web_stack
    mail.reset()
    with mail.store.transaction() as session:
        temporary = accounts.add_account(session, "jiro@example.jp").password
    page.goto(mail.stack.web_url + "/login")
    page.get_by_label("メールアドレス", exact=True).fill("jiro@example.jp")
    page.get_by_label("POP アカウントパスワード").fill(temporary)
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator("h1")).to_have_text("POP アカウントパスワード変更")
    page.goto(mail.stack.web_url + "/")  # nothing else is reachable yet
    expect(page.locator("h1")).to_have_text("POP アカウントパスワード変更")
    expect(page.get_by_role("alert")).to_contain_text(
        "はじめに仮ログインパスワードを変更してください。"
    )
    page.get_by_label("現在の POP アカウントパスワード").fill(temporary)
    page.get_by_label("新しい POP アカウントパスワード", exact=True).fill("Jiro2026")
    page.get_by_label("確認のため、再度新しい POP アカウントパスワード").fill("Jiro2026")
    page.get_by_role("button", name="変更").click()
    expect(page.locator("h1")).to_have_text("POP アカウントパスワード変更完了")
    page.get_by_role("link", name="メールアカウント情報参照へ戻る").click()
    expect(page.locator("h1")).to_have_text("メールアカウント情報参照")
