"""受信ログ: every mail leaves one row per mailbox saying where it went and why — written
by the milter's transaction once the verdict is final, shown on the owner's page, searched,
pruned after its days."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from sekisho.config import Settings
from sekisho.devstack.clamd import ClamdInstance
from sekisho.devstack.spam import RspamdInstance
from sekisho.milter import server, transaction
from sekisho.milter.actions import Accept, Continue
from sekisho.milter.auto_reply import AutoReplies
from sekisho.milter.transaction import MailTransaction
from sekisho.rules.forwarding import ForwardPlan
from sekisho.rules.model import DELIVER, Action, Decision, Message, RuleHit
from sekisho.store import accounts, delivery_log
from sekisho.store.db import Store
from sekisho.store.delivery_log import DeliveryLog, Mailed, delivery_page
from sekisho.store.models import DeliveryLogEntry, utcnow
from sekisho.store.policies import PolicyCache
from sekisho.store.settings_doc import import_settings
from sekisho.webui import create_app
from tests.scanning import transaction_on
from tests.test_transaction_spam import GTUBE_BODY
from tests.test_transaction_virus import EICAR_NAME, INFECTED_BODY
from tests.webclient import login


def deliver(
    store: Store,
    mail_root: Path,
    log: DeliveryLog | None,
    sender: str,
    subject: str,
    body: bytes = b"Hello, are you there? Let us meet for lunch next week.\r\n",
    **options: Any,
) -> None:
    """One mail from ``sender`` to taro and hanako through a transaction, as the adapter
    drives it (the outcome recorded once the verdict is final); ``log`` None: as the
    milter runs when the operator keeps no log."""
    transaction: MailTransaction = transaction_on(
        store,
        PolicyCache(store, 0.0).get,
        mail_root,
        record_deliveries=log.record if log is not None else None,
        **options,
    )
    transaction.sender = sender
    for recipient in ("<taro@example.jp>", "<hanako@example.jp>"):
        assert transaction.add_recipient(recipient) == Continue()
    transaction.add_header("From", sender)
    transaction.add_header("To", "taro@example.jp, hanako@example.jp")
    transaction.add_header("Subject", subject)
    transaction.add_header("Message-ID", f"<{subject.replace(' ', '.')}@client.example>")
    transaction.queue_id = "Q1"
    if transaction.end_of_headers() != Accept():  # an accept there records the outcome
        transaction.add_body(body)
        transaction.end_of_message()
        transaction.close()
        transaction.record_outcome()
    if log is not None:
        log.flush()


def settle(store: Store, address: str, document: dict[str, object]) -> None:
    with store.transaction() as session:
        import_settings(session, address, document)


def test_each_mailbox_gets_a_row_saying_where_its_copy_went_and_why(
    client: FlaskClient, store: Store, mail_root: Path
) -> None:
    settle(store, "taro@example.jp", {"reject_from": ["bad.example"]})
    settle(store, "hanako@example.jp", {"forwarding": [{"to": "h@mobile.example", "keep": False}]})
    log = DeliveryLog(store)
    deliver(store, mail_root, log, "offers@bad.example", "limited offer")
    deliver(store, mail_root, log, "friend@ok.example", "lunch")
    with store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        hanako = accounts.require_account(session, "hanako@example.jp").id
        taros = [
            (row.subject, row.outcome, row.rule, row.entry)
            for row in delivery_page(session, taro).entries
        ]
        hanakos = [
            (row.subject, row.outcome, row.forwarded_to)
            for row in delivery_page(session, hanako).entries
        ]
    assert taros == [
        ("lunch", delivery_log.INBOX, "", ""),
        ("limited offer", delivery_log.QUARANTINE, "reject_from", "bad.example"),
    ]
    assert hanakos == [
        ("lunch", delivery_log.FORWARDED, "h@mobile.example"),
        ("limited offer", delivery_log.FORWARDED, "h@mobile.example"),
    ]
    login(client)
    page = client.get("/log/").get_data(as_text=True)
    assert "受信ログ" in page
    assert "迷惑メールフォルダ" in page
    assert "From（送信者アドレス）受信拒否設定：「bad.example」" in page
    assert "/quarantine/" in page  # the quarantined row links to its copy
    assert "h@mobile.example" not in page  # hanako's rows are hers alone
    found = client.get("/log/?q=lunch").get_data(as_text=True)
    assert "lunch" in found
    assert "limited offer" not in found
    assert "「nothing-like-this」に一致するメールはありません。" in client.get(
        "/log/?q=nothing-like-this"
    ).get_data(as_text=True)
    english = client.get("/log/?lang=en").get_data(as_text=True)
    assert "Delivery log" in english
    assert "Spam folder" in english
    overview = client.get("/").get_data(as_text=True)
    assert 'href="/log/"' in overview


def shown(page: str) -> list[tuple[str, str, str, str]]:
    """(sender, subject, result, reason) of each row of the page's table, as read on the
    screen: tags and the link to the rule tester dropped (a <wbr> in an address, where it
    may break, is no space)."""
    body = page.split("<tbody>")[-1].split("</tbody>")[0]
    found = []
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)
        cells[4] = re.sub(r'<a href="/rules/test[^"]*">.*?</a>', "", cells[4])
        cells = [re.sub(r"<[^>]+>", " ", cell.replace("<wbr>", "")) for cell in cells]
        texts = [" ".join(html.unescape(cell).split()) for cell in cells]
        found.append((texts[1], texts[2], texts[3], texts[4]))
    return found


def three_mailboxes(store: Store) -> tuple[int, int, int]:
    """The ids of taro, hanako and jiro, added to example.jp."""
    names = ("taro", "hanako", "jiro")
    with store.transaction() as session:
        for name in names:
            accounts.add_account(session, f"{name}@example.jp", "secret123")
        taro, hanako, jiro = (
            accounts.require_account(session, f"{name}@example.jp").id for name in names
        )
    return taro, hanako, jiro


def logged(store: Store, address: str) -> list[DeliveryLogEntry]:
    with store.read() as session:
        account = accounts.require_account(session, address).id
        return list(delivery_page(session, account).entries)


def test_spam_taken_tagged_into_the_inbox_shows_its_score(
    client: FlaskClient, store: Store, mail_root: Path, rspamd: RspamdInstance
) -> None:
    """「[spam]付きで受信箱」: the spam scan's verdict, for a mailbox that takes spam tagged,
    with the score and the engine that gave it."""
    for address in ("taro@example.jp", "hanako@example.jp"):
        settle(store, address, {"spam_scan": {"enabled": True, "quarantine": False}})
    deliver(
        store,
        mail_root,
        DeliveryLog(store),
        "shop@ads.example",
        "offer",
        GTUBE_BODY,
        spam_engine_url=rspamd.url,
    )
    (row,) = logged(store, "taro@example.jp")
    assert (row.outcome, row.rule, row.matched) == (delivery_log.TAGGED, "spam", "rspamd")
    assert re.fullmatch(r"\d+\.\d / \d+\.\d", row.entry), row.entry  # score / threshold
    login(client)
    assert shown(client.get("/log/").get_data(as_text=True)) == [
        (
            "shop@ads.example",
            "offer",
            "[spam]付きで受信箱",
            f"迷惑メールスキャン：スコア {row.entry}（rspamd）",
        )
    ]
    assert shown(client.get("/log/?lang=en").get_data(as_text=True)) == [
        (
            "shop@ads.example",
            "offer",
            "Inbox, tagged [spam]",
            f"Spam scan: score {row.entry} (rspamd)",
        )
    ]


def test_a_mail_removed_for_a_virus_names_the_virus(
    client: FlaskClient, app: Flask, store: Store, mail_root: Path, clamd: ClamdInstance
) -> None:
    """「ウイルス削除」 for the mailbox with the virus scan on, naming what clamd found; the
    mailbox with the scan off got the mail in its inbox, and its log says just that."""
    settle(store, "taro@example.jp", {"virus_scan": True})
    settle(store, "hanako@example.jp", {"virus_scan": False})
    deliver(
        store,
        mail_root,
        DeliveryLog(store),
        "shop@ads.example",
        "invoice",
        INFECTED_BODY,
        clamd_url=clamd.url,
    )
    login(client)
    assert shown(client.get("/log/").get_data(as_text=True)) == [
        ("shop@ads.example", "invoice", "ウイルス削除", f"ウイルス：{EICAR_NAME}")
    ]
    assert shown(client.get("/log/?lang=en").get_data(as_text=True)) == [
        ("shop@ads.example", "invoice", "Removed: virus", f"Virus: {EICAR_NAME}")
    ]
    hanako = app.test_client()
    login(hanako, "hanako@example.jp", "hanako123")
    assert shown(hanako.get("/log/").get_data(as_text=True)) == [
        ("shop@ads.example", "invoice", "受信箱", "")
    ]


def subjects(page: str) -> list[str]:
    return [subject for _, subject, _, _ in shown(page)]


def test_more_than_a_page_of_mail_is_shown_50_to_a_page_newest_first(
    client: FlaskClient, store: Store
) -> None:
    with store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
    log = DeliveryLog(store)
    start = utcnow() - timedelta(hours=1)
    for n in range(1, 54):
        message = Message("a@b.example", (("Subject", f"mail number {n:02d}"),))
        log.record(Mailed(start + timedelta(minutes=n), message, "", "", ((taro, DELIVER),)))
    lunch = Message("a@b.example", (("Subject", "lunch"),))
    log.record(Mailed(start, lunch, "", "", ((taro, DELIVER),)))  # the oldest of all
    assert log.flush() == 54
    login(client)
    first = client.get("/log/").get_data(as_text=True)
    assert "2 ページ中 1 ページ目（全 54 通）" in first
    assert subjects(first) == [f"mail number {n:02d}" for n in range(53, 3, -1)]
    assert "前のページ" not in first
    (next_page,) = re.findall(r'<a href="([^"]+)">次のページ</a>', first)
    second = client.get(html.unescape(next_page)).get_data(as_text=True)
    assert "2 ページ中 2 ページ目（全 54 通）" in second
    assert subjects(second) == ["mail number 03", "mail number 02", "mail number 01", "lunch"]
    assert "次のページ" not in second
    assert re.findall(r'<a href="([^"]+)">前のページ</a>', second) == ["/log/?page=1"]
    # A search's page links keep the search: its page 2 holds no other mail.
    searched = client.get("/log/?q=number").get_data(as_text=True)
    assert "2 ページ中 1 ページ目（全 53 通）" in searched
    (next_page,) = re.findall(r'<a href="([^"]+)">次のページ</a>', searched)
    found = client.get(html.unescape(next_page)).get_data(as_text=True)
    assert subjects(found) == ["mail number 03", "mail number 02", "mail number 01"]
    english = client.get("/log/?page=2&lang=en").get_data(as_text=True)
    assert "Page 2 of 2 (54 mails)" in english
    assert subjects(english) == subjects(second)
    assert '<a href="/log/?page=1">Previous page</a>' in english


def test_an_answered_mail_says_so(
    client: FlaskClient, store: Store, mail_root: Path, rspamd: RspamdInstance
) -> None:
    settle(store, "taro@example.jp", {"auto_reply": {"enabled": True, "message": "away"}})
    log = DeliveryLog(store)
    deliver(
        store,
        mail_root,
        log,
        "friend@ok.example",
        "are you there",
        spam_engine_url=rspamd.url,
        auto_replies=AutoReplies(store),
    )
    with store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        (row,) = delivery_page(session, taro).entries
    assert (row.outcome, row.auto_replied) == (delivery_log.INBOX, True)
    login(client)
    assert "自動返信" in client.get("/log/").get_data(as_text=True)


def test_rows_wait_in_memory_while_the_store_is_down_and_are_written_later(
    store: Store, example_domain: str
) -> None:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        taro = accounts.require_account(session, "taro@example.jp").id
    mailed = Mailed(utcnow(), Message("a@b.example"), "", "Q1", ((taro, DELIVER),))
    broken = DeliveryLog(Store("sqlite:////nonexistent-dir/sekisho.db"))
    broken.record(mailed)
    assert broken.flush() == 0
    assert broken.flush() == 0  # still down: the row waits on
    working = DeliveryLog(store)
    working.record(mailed)
    working.record(mailed)
    assert working.flush() == 2
    assert working.flush() == 0


def test_a_mailbox_deleted_before_the_flush_loses_its_rows_alone(
    store: Store, example_domain: str, caplog: pytest.LogCaptureFixture
) -> None:
    """jiro's account goes between his mail and the flush: his row would break the foreign
    key and took the whole batch with it; now it is dropped (and counted in the log), and
    everyone else's are written."""
    taro, hanako, jiro = three_mailboxes(store)
    log = DeliveryLog(store)
    for subject, mailboxes in (("to taro and jiro", (taro, jiro)), ("to hanako", (hanako,))):
        message = Message("a@b.example", (("Subject", subject),))
        log.record(Mailed(utcnow(), message, "", "", tuple((m, DELIVER) for m in mailboxes)))
    with store.transaction() as session:
        session.delete(accounts.require_account(session, "jiro@example.jp"))
    caplog.set_level(logging.INFO, "sekisho.delivery_log")
    assert log.flush() == 2
    assert "delivery_log_rows_dropped rows=1 mailboxes=1 reason=mailbox_deleted" in caplog.text
    assert "delivery_log_not_written" not in caplog.text
    with store.read() as session:
        written = {(row.account_id, row.subject) for row in session.query(DeliveryLogEntry)}
    assert written == {(taro, "to taro and jiro"), (hanako, "to hanako")}
    assert log.flush() == 0  # nothing left over to try again


def test_the_purge_forgets_exactly_the_rows_past_their_days_a_few_at_a_time(
    store: Store, example_domain: str
) -> None:
    """Mailbox by mailbox, at most ``batch`` rows a transaction (SQLite's write lock is the
    milter's wait): with 3, taro's 4 old rows and hanako's 7 go in 4 transactions."""
    taro, hanako, jiro = three_mailboxes(store)
    now = utcnow()
    cutoff = now - timedelta(days=7)
    log = DeliveryLog(store)
    for account_id, old, new in ((taro, 4, 2), (hanako, 7, 1), (jiro, 0, 3)):
        times = [cutoff - timedelta(hours=n + 1) for n in range(old)]
        times += [cutoff + timedelta(hours=n) for n in range(new)]  # the first on the cutoff
        for at in times:
            message = Message("a@b.example", (("Subject", f"{at:%d %H}"),))
            log.record(Mailed(at, message, "", "", ((account_id, DELIVER),)))
    log.flush()
    deleting: list[int] = []  # the rows of each DELETE of the open transaction
    transactions: list[int] = []  # the rows each committed transaction deleted

    def executed(_c: object, cursor: Any, statement: str, *_: object) -> None:
        if statement.startswith("DELETE"):
            deleting.append(cursor.rowcount)

    def committed(_connection: object) -> None:
        transactions.append(sum(deleting))
        deleting.clear()

    event.listen(store.engine, "after_cursor_execute", executed)
    event.listen(store.engine, "commit", committed)
    try:
        assert delivery_log.forget_old(store, now, days=7, batch=3) == 11
    finally:
        event.remove(store.engine, "after_cursor_execute", executed)
        event.remove(store.engine, "commit", committed)
    assert transactions == [3, 3, 3, 2]
    with store.read() as session:
        kept = {
            account_id: [row.at for row in delivery_page(session, account_id).entries]
            for account_id in (taro, hanako, jiro)
        }
    assert kept == {
        taro: [cutoff + timedelta(hours=1), cutoff],
        hanako: [cutoff],
        jiro: [cutoff + timedelta(hours=2), cutoff + timedelta(hours=1), cutoff],
    }
    assert delivery_log.forget_old(store, now, days=7, batch=3) == 0


def test_a_search_reads_the_index_and_only_the_page_s_rows(
    store: Store, example_domain: str
) -> None:
    """Sender and subject are in the mailbox's index (migration 0018): a search, which no
    index can seek, reads the mailbox's range of that index for the count and the page's
    ids, and the table only for the page's rows, by id (EXPLAIN of each statement the page
    ran, on each backend)."""
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        taro = accounts.require_account(session, "taro@example.jp").id
    log = DeliveryLog(store)
    start = utcnow() - timedelta(hours=1)
    for n in range(120):
        message = Message("a@b.example", (("Subject", f"セール {n}" if n % 2 else f"lunch {n}"),))
        log.record(Mailed(start + timedelta(seconds=n), message, "", "", ((taro, DELIVER),)))
    log.flush()
    ran: list[tuple[str, Any]] = []

    def executed(_c: object, _cur: object, statement: str, parameters: Any, *_: object) -> None:
        ran.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", executed)
    try:
        with store.read() as session:
            page = delivery_page(session, taro, "セール", 2)
    finally:
        event.remove(store.engine, "before_cursor_execute", executed)
    assert (page.total, page.number, page.pages) == (60, 2, 2)
    assert [row.subject for row in page.entries] == [f"セール {n}" for n in range(19, 0, -2)]

    backend = store.engine.dialect.name
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if backend == "postgresql":
            # An index-only scan needs the pages marked all-visible; and 120 rows are cheaper
            # read whole: the planner is to read the table itself only when nothing else can.
            connection.exec_driver_sql("VACUUM ANALYZE delivery_log")
            connection.exec_driver_sql("SET enable_seqscan = off")
            connection.exec_driver_sql("SET enable_bitmapscan = off")
        explain = "EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN "
        # " Backward": PostgreSQL reads the index newest first, as the page asks.
        plans = [
            " / ".join(
                str(line[-1]) for line in connection.exec_driver_sql(explain + sql, args)
            ).replace(" Backward", "")
            for sql, args in ran
        ]
    index_alone, by_id = {
        "sqlite": (
            "SEARCH delivery_log USING COVERING INDEX ix_delivery_log_account_at_sender_subject",
            "SEARCH delivery_log USING INTEGER PRIMARY KEY",
        ),
        "postgresql": (
            "Index Only Scan using ix_delivery_log_account_at_incl_sender_subject",
            "Index Scan using pk_delivery_log",
        ),
    }[backend]
    count, ids, rows = plans
    assert index_alone in count
    assert index_alone in ids
    assert by_id in rows
    assert not any("SCAN delivery_log" in plan or "Seq Scan" in plan for plan in plans)


def test_an_allow_entry_is_not_applied_to_a_sender_rspamd_could_not_authenticate(
    client: FlaskClient, store: Store, mail_root: Path, rspamd: RspamdInstance
) -> None:
    """No DNS here, so rspamd can check neither SPF, DKIM nor DMARC: with the operator's
    allow_list_trusts_unchecked off, the allow entry lifts nothing and 受信ログ says why."""
    settle(store, "taro@example.jp", {"allow_from": ["ok.example"]})
    settle(store, "hanako@example.jp", {"allow_from": ["ok.example"], "reject_subject": ["lunch"]})
    log = DeliveryLog(store)
    for trusted in (True, False):
        deliver(
            store,
            mail_root,
            log,
            "friend@ok.example",
            f"lunch {trusted}",
            spam_engine_url=rspamd.url,
            trust_unchecked_senders=trusted,
        )
    with store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        hanako = accounts.require_account(session, "hanako@example.jp").id
        taros = [(r.subject, r.outcome, r.rule) for r in delivery_page(session, taro).entries]
        hanakos = [(r.subject, r.outcome, r.rule) for r in delivery_page(session, hanako).entries]
    assert taros == [
        ("lunch False", delivery_log.INBOX, "allow_from_unverified"),
        ("lunch True", delivery_log.INBOX, "allow_from"),
    ]
    assert hanakos == [
        ("lunch False", delivery_log.QUARANTINE, "reject_subject"),
        ("lunch True", delivery_log.INBOX, "allow_from"),
    ]
    login(client)
    page = client.get("/log/").get_data(as_text=True)
    assert (
        "受信許可設定「ok.example」に一致しましたが、送信者が認証されていないため適用しませんでした"
        in page
    )


def test_a_row_holds_what_the_milter_decided_cut_for_the_screen(
    store: Store, example_domain: str
) -> None:
    """The rows are built on the flush thread from what the milter handed over: one per
    mailbox, the subject decoded, long texts cut to 255 characters."""
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        accounts.add_account(session, "hanako@example.jp", "secret123")
        taro = accounts.require_account(session, "taro@example.jp").id
        hanako = accounts.require_account(session, "hanako@example.jp").id
    caught = Decision(Action.QUARANTINE, RuleHit("reject_subject", "セール" * 100, "x" * 300))
    forwarded = Decision(
        Action.DELIVER,
        forward=ForwardPlan(("a@mobile.example", "b@mobile.example"), keep_mailbox=False),
        auto_reply="away",
    )
    subject = "=?UTF-8?B?5aSP44Gu44K744O844Or?= " + "z" * 300
    message = Message("news@shop.example", (("Subject", subject),))
    at = utcnow()
    log = DeliveryLog(store)
    log.record(Mailed(at, message, "k" * 64, "Q" * 40, ((taro, caught), (hanako, forwarded))))
    assert log.flush() == 2
    with store.read() as session:
        rows = {
            row.account_id: (
                row.at,
                row.sender,
                row.subject,
                row.outcome,
                row.rule,
                row.entry,
                row.matched,
                row.forwarded_to,
                row.auto_replied,
                row.message_key,
                row.queue_id,
            )
            for row in session.query(DeliveryLogEntry)
        }
    shown = ("夏のセール " + "z" * 300)[:255]
    assert rows == {
        taro: (
            at,
            "news@shop.example",
            shown,
            delivery_log.QUARANTINE,
            "reject_subject",
            ("セール" * 100)[:255],
            "x" * 255,
            "",
            False,
            "k" * 64,
            "Q" * 32,
        ),
        hanako: (
            at,
            "news@shop.example",
            shown,
            delivery_log.FORWARDED,
            "",
            "",
            "",
            "a@mobile.example, b@mobile.example",
            True,
            "k" * 64,
            "Q" * 32,
        ),
    }


def test_with_no_days_the_milter_hands_over_nothing(
    store: Store, example_domain: str, mail_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """delivery_log_days = 0: the milter's wiring gives the transactions no log, so a mail
    is filtered as ever but leaves no row, and none is even built; with days, it does."""
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        accounts.add_account(session, "hanako@example.jp", "secret123")
    settle(store, "taro@example.jp", {"reject_from": ["bad.example"]})
    kept = server.delivery_log(Settings(delivery_log_days=7), store)
    assert kept is not None
    deliver(store, mail_root, kept, "offers@bad.example", "kept")
    assert server.delivery_log(Settings(delivery_log_days=0), store) is None

    def built(*_: object) -> Mailed:
        raise AssertionError("a 受信ログ row was built with the log off")

    monkeypatch.setattr(transaction, "Mailed", built)
    deliver(store, mail_root, None, "offers@bad.example", "not kept")
    deliver(store, mail_root, None, "friend@ok.example", "not kept either")  # accepted early
    with store.read() as session:
        assert [row.subject for row in session.query(DeliveryLogEntry)] == ["kept", "kept"]
    junk = list((mail_root / "example.jp" / "taro" / ".Junk" / "new").iterdir())
    assert len(junk) == 2  # the rules still caught the second mail from bad.example
    # the hourly purge takes what was kept before
    assert delivery_log.forget_old(store, utcnow(), days=0) == 2


def test_with_no_days_the_page_says_no_log_is_kept(app: Flask, store: Store) -> None:
    settings = replace(app.extensions["sekisho.settings"], delivery_log_days=0)
    client = create_app(settings, store).test_client()
    login(client)
    page = client.get("/log/").get_data(as_text=True)
    assert "ご利用のプロバイダーは受信ログを保存していません。" in page
    assert "過去 0 日間" not in page
    assert 'name="q"' not in page  # nothing to search
    english = client.get("/log/?lang=en").get_data(as_text=True)
    assert "Your provider does not keep a delivery log" in english
