"""Every list page as a customer sees it in Chromium: at 1024 px and wider no button, link
label or column heading breaks over two lines and no word is split; on a 375 px phone the
page does not scroll sideways and the lists become one card a row, each value under its
column's name. The rule tester's answer, a table of its own, is measured at 1024 px."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from werkzeug.serving import make_server

from sekisho.config import load_settings
from sekisho.rules import allow_from, virus
from sekisho.rules.forwarding import ForwardPlan
from sekisho.rules.lists import ALLOW_FROM, REJECT_FROM, REJECT_SUBJECT
from sekisho.rules.model import DELIVER, Action, Decision, Message, RuleHit
from sekisho.rules.spam import spam_hit
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.delivery_log import DeliveryLog, Mailed
from sekisho.store.forwarding import add_target
from sekisho.store.lists import add_values
from sekisho.store.migrate import upgrade
from sekisho.store.models import utcnow
from sekisho.webui import create_app
from tests.chromium import chromium
from tests.test_quarantine_folder import HIT, quarantine

pytestmark = pytest.mark.browser

# What a spam folder holds: a long Japanese subject, English words, and a spammer's token
# with no place to break (it may break anywhere, but must not widen the page).
SUBJECTS = [
    "【重要】お客様のアカウント情報の確認をお願いします（至急）",
    "Very long English subject about winning a prize and claiming it now",
    "Invitation-" + "x" * 90,
]
SRS_SENDER = "SRS0=x7Kq=5Z=newsletter.marketing-mail.example.com=bounces@forwarder.example.net"
LOCALES = {"ja": "ja-JP", "en": "en-US"}
ACTIONS = {"ja": ["受信箱へ戻す", "削除"], "en": ["Move back to the inbox", "Delete"]}
PAGES = [
    "/",
    "/quarantine/",
    "/forward/",
    "/history",
    "/reject/",
    "/reject/from/",
    "/reject/subject/",
    "/reject/header/",
    "/allow/",
    "/autoreply/",
    "/autoreply/edit",
    "/forward/new",
    "/reject/from/new",
    "/password/",
    "/rules/test",
    "/log/",
]

# Counts, for each element, the lines its text is laid out on: a label or a word that
# wraps has boxes on two different heights.
MEASURE = """() => {
  const lines = (range) => new Set(
    [...range.getClientRects()].filter((box) => box.width > 0).map((box) => Math.round(box.top))
  ).size;
  const wrapped = (element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    return lines(range) > 1;
  };
  const labels = document.querySelectorAll(
    "button, a.button, td.actions a, table.list th, header a, header > span:first-child"
  );
  const splitWords = [];
  for (const cell of document.querySelectorAll("td:not(.text), th")) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
      for (const word of text.data.matchAll(/[A-Za-z0-9@._]+/g)) {
        const range = document.createRange();
        range.setStart(text, word.index);
        range.setEnd(text, word.index + word[0].length);
        if (lines(range) > 1) splitWords.push(word[0]);
      }
    }
  }
  return {
    sideways: document.documentElement.scrollWidth - window.innerWidth,
    wrappedLabels: [...labels].filter(wrapped).map((element) => element.textContent.trim()),
    splitWords: splitWords,
  };
}"""


# 受信ログ's rows besides the quarantined ones (which link to their copies): every other
# outcome, the longest reasons, a bounce's long VERP sender, a mail with neither sender
# nor subject.
LOGGED = [
    (
        "bounces+2024.06.01.a1b2c3d4e5@mail.shop-news.example.co.jp",
        "【広告】夏の大感謝セール開催中！全品最大70%オフ、今すぐチェック",
        Decision(Action.TAG, spam_hit(1000.0, 15.0, "rspamd")),
    ),
    (
        "invoice@billing.example.com",
        "Your invoice INV-2024-000123 is attached",
        Decision(Action.REMOVE_VIRUS, RuleHit(virus.name, "Win.Trojan.Agent-1234567-0", "")),
    ),
    (
        "friend@ok.example",
        "週末のお花見の件",
        Decision(
            Action.DELIVER,
            unverified_allow=RuleHit(allow_from.name, "ok.example", "friend@ok.example"),
        ),
    ),
    (
        "mother@example.ne.jp",
        "Re: お正月の予定について",
        Decision(
            Action.DELIVER,
            forward=ForwardPlan(("taro.personal@another-provider.example.ne.jp",), False),
            auto_reply="away",
        ),
    ),
    ("", "", DELIVER),
]


def log_what_became_of_each_mail(store: Store, account_id: int) -> None:
    log = DeliveryLog(store)
    at = utcnow()
    for subject in SUBJECTS:  # the keys the quarantine helper gave their copies
        message = Message("x@bad.example", (("Subject", subject),))
        log.record(
            Mailed(
                at,
                message,
                f"key-{subject}",
                "Q1",
                ((account_id, Decision(Action.QUARANTINE, HIT)),),
            )
        )
    for sender, subject, decision in LOGGED:
        message = Message(sender, (("Subject", subject),))
        log.record(Mailed(at, message, f"key-{subject}", "Q1", ((account_id, decision),)))
    assert log.flush() == len(SUBJECTS) + len(LOGGED)


@dataclass(frozen=True)
class LiveUI:
    url: str
    record_id: int


@pytest.fixture(scope="module")
def live_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveUI]:
    """The web UI on a local port with a mailbox that has something on every list."""
    folder = tmp_path_factory.mktemp("layout")
    database_url = f"sqlite:///{folder / 'sekisho.db'}"
    upgrade(database_url)
    store = Store(database_url)
    mail_root = folder / "mail"
    with store.transaction() as session:
        accounts.add_domain(session, "example.jp", "ms246", "smtp.example.jp", "pop.example.jp")
        accounts.add_account(session, "taro@example.jp", "taro1234")
        taro = accounts.require_account(session, "taro@example.jp").id
        add_target(session, taro, "taro.personal@another-provider.example.ne.jp", keep=True)
        add_values(session, taro, REJECT_FROM, ["newsletter.marketing-mail.example.com"])
        add_values(session, taro, REJECT_SUBJECT, ["未承諾広告", "Congratulations"])
        add_values(session, taro, ALLOW_FROM, ["friend@example.org"])
    # A forwarder's SRS address as the envelope sender: long, with few places to break.
    quarantine(store, mail_root, "転送されたメール", sender=SRS_SENDER)
    record_id = [quarantine(store, mail_root, subject) for subject in SUBJECTS][-1]
    log_what_became_of_each_mail(store, taro)
    settings = load_settings(
        environ={
            "SEKISHO_SECRET_KEY": "test",
            "SEKISHO_DATABASE_URL": database_url,
            "SEKISHO_MAIL_ROOT": str(mail_root),
        }
    )
    server = make_server("127.0.0.1", 0, create_app(settings, store), threaded=True)
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    yield LiveUI(f"http://127.0.0.1:{server.port}", record_id)
    server.shutdown()
    serving.join()
    store.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def logged_in(browser: Browser, live_ui: LiveUI, width: int, language: str) -> Page:
    page = browser.new_context(
        viewport={"width": width, "height": 800}, locale=LOCALES[language]
    ).new_page()
    page.goto(f"{live_ui.url}/login")
    page.fill("#address", "taro@example.jp")
    page.fill("#password", "taro1234")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{live_ui.url}/")
    return page


def measure_every_page(page: Page, live_ui: LiveUI) -> dict[str, Any]:
    found = {}
    record = f"/quarantine/{live_ui.record_id}"
    for path in [*PAGES, record, f"{record}/source", f"{record}/release-allow"]:
        page.goto(live_ui.url + path)
        found[path] = page.evaluate(MEASURE)
    return found


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize("width", [1024, 1440])
def test_on_a_desktop_no_label_or_word_breaks(
    browser: Browser, live_ui: LiveUI, width: int, language: str
) -> None:
    page = logged_in(browser, live_ui, width, language)
    for path, seen in measure_every_page(page, live_ui).items():
        assert seen == {"sideways": 0, "wrappedLabels": [], "splitWords": []}, path
    page.goto(live_ui.url + "/quarantine/")
    actions = page.locator("td.actions").first
    assert actions.locator("a").all_inner_texts() == ACTIONS[language]
    page.goto(live_ui.url + "/log/")  # measured above with every row of its fixture
    assert page.locator("table.list tbody tr").count() == len(SUBJECTS) + len(LOGGED)
    linked = page.locator(f'td.text a[href="/quarantine/{live_ui.record_id}"]')
    assert linked.inner_text() == SUBJECTS[2]
    page.context.close()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_on_a_phone_the_page_stays_within_the_screen(
    browser: Browser, live_ui: LiveUI, language: str
) -> None:
    page = logged_in(browser, live_ui, 375, language)
    for path, seen in measure_every_page(page, live_ui).items():
        assert seen["sideways"] == 0, path
        assert seen["wrappedLabels"] == [], path
    page.goto(live_ui.url + "/quarantine/")
    assert not page.locator("table.list thead").is_visible()
    first = page.locator("table.list tbody tr").first
    # One mail a card: its values stacked, each under its column's name, and the two
    # actions side by side at full size.
    assert first.locator("td").evaluate_all(
        "cells => cells.map(cell => getComputedStyle(cell, '::before').content)"
    )[0] == ('"受信日時"' if language == "ja" else '"Received"')
    release, delete = first.locator("td.actions a").all()
    release_box, delete_box = release.bounding_box(), delete.bounding_box()
    assert release_box is not None
    assert delete_box is not None
    assert release_box["y"] == delete_box["y"]
    assert delete_box["x"] + delete_box["width"] <= 375
    page.context.close()


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_rule_testers_answer_fits_a_desktop(
    browser: Browser, live_ui: LiveUI, language: str
) -> None:
    page = logged_in(browser, live_ui, 1024, language)
    page.goto(live_ui.url + "/rules/test")
    page.fill("#header", f"From: {SUBJECTS[2]}@newsletter.marketing-mail.example.com\nSubject: x")
    page.click("main form button[type=submit]")
    page.wait_for_selector("table.list")
    assert page.locator("table.list tbody tr").count() == 7  # every row of the decision table
    assert page.evaluate(MEASURE) == {"sideways": 0, "wrappedLabels": [], "splitWords": []}
    page.context.close()
