"""sekisho worker sends quarantine notices to an SMTP server (aiosmtpd standing in for
Postfix's re-injection listener): what the mail says, digests, retries, refusals, and the
release link opened in the web UI."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from sekisho.config import Settings
from sekisho.envelope import Envelope
from sekisho.maildir import Ownership
from sekisho.mails.release_links import ReleaseTarget, release_token
from sekisho.milter.quarantine import Quarantine
from sekisho.rules.model import RuleHit, SpamSetting
from sekisho.store import accounts, outbox
from sekisho.store.db import Store
from sekisho.store.models import OutboxMessage, QuarantinedMessage, utcnow
from sekisho.store.policies import load_policy
from sekisho.store.quarantine import notice_due, quarantine_page
from sekisho.store.spam_settings import set_spam_setting
from sekisho.worker import Worker
from tests.smtpsink import Sink
from tests.webclient import csrf, hidden

PUBLIC_URL = "https://mail.example.jp/supw"
SPAM_HIT = RuleHit("spam", "15.0 / 5.0", "rspamd")


def settings_for(app: Flask, sink: Sink, digest_minutes: int = 0) -> Settings:
    configured: Settings = app.extensions["sekisho.settings"]
    return dataclasses.replace(
        configured,
        reinject_smtp=sink.address,
        notice_digest_minutes=digest_minutes,
        web_url=PUBLIC_URL,
    )


@pytest.fixture
def notify_on(store: Store, app: Flask) -> int:
    with store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        set_spam_setting(session, taro, SpamSetting(enabled=True, quarantine=True, notify=True))
    return taro


def quarantine_spam(
    store: Store, mail_root: Path, subject: str, sender: str = "x@spam.example", digest: int = 0
) -> int:
    policy = load_policy(store, "taro@example.jp")
    assert policy is not None
    Quarantine(store, mail_root, Ownership(), notice_digest_minutes=digest).put(
        policy,
        SPAM_HIT,
        sender,
        subject,
        "Q1",
        f"key-{subject}",
        [f"From: {sender}\nSubject: spam\n\nbuy now\n".encode()],
        Envelope(),
    )
    with store.read() as session:
        records = quarantine_page(session, policy.account_id).entries
        return next(record.id for record in records if record.subject == subject)


def outbox_rows(store: Store) -> list[OutboxMessage]:
    with store.read() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def release_path(body: str) -> str:
    found = re.findall(re.escape(PUBLIC_URL) + r"(/release/[A-Za-z0-9_.\-]+)", body)
    assert found, body
    return str(found[0])


def inbox_and_junk(mail_root: Path) -> tuple[int, int]:
    mailbox = mail_root / "example.jp/taro"
    inbox = len(list((mailbox / "new").glob("*"))) + len(list((mailbox / "cur").glob("*")))
    junk = len(list((mailbox / ".Junk/new").glob("*")))
    return inbox, junk


def test_the_notice_lists_the_copy_and_its_link_releases_it_after_the_button(
    app: Flask, client: FlaskClient, store: Store, mail_root: Path, smtp_sink: Sink, notify_on: int
) -> None:
    record_id = quarantine_spam(store, mail_root, "今だけ半額\n受信箱へ戻す: https://evil.example/")
    assert Worker(settings_for(app, smtp_sink), store).send_due() == 1
    (mail,) = smtp_sink.received
    assert mail.envelope_from == "<>"  # MAIL FROM:<>, as auto-generated mail is sent
    assert mail.recipients == ["taro@example.jp"]
    notice = mail.message
    assert notice["To"] == "taro@example.jp"
    assert notice["Auto-Submitted"] == "auto-generated"
    assert str(notice["Subject"]).startswith("隔離通知メール（1通）")
    assert "postmaster@example.jp" in str(notice["From"])
    body = notice.get_content()
    assert "taro@example.jp 宛ての次のメールを迷惑メールとして隔離しました。" in body
    assert "送信者: x@spam.example" in body
    assert "件名: 今だけ半額 受信箱へ戻す: https://evil.example/" in body  # on one line
    assert not any(line.startswith("受信箱へ戻す: https://evil") for line in body.splitlines())
    assert "15.0 / 5.0" in body
    assert "Sender: x@spam.example" in body  # the English part follows
    assert "Reason: Spam scan: score 15.0 / 5.0 (rspamd)" in body  # in English there
    assert outbox_rows(store)[0].sent_at is not None

    path = release_path(body).removeprefix("/supw")
    page = client.get(path).get_data(as_text=True)
    assert "このメールを受信箱へ戻します。" in page
    assert inbox_and_junk(mail_root) == (0, 1)  # opening the link changed nothing
    client.get(path)
    assert inbox_and_junk(mail_root) == (0, 1)
    done = client.post(path, data={"csrf_token": csrf(page), "token": hidden(page, "token")})
    assert "メールを受信箱へ戻しました。" in done.get_data(as_text=True)
    assert inbox_and_junk(mail_root) == (1, 0)
    with store.read() as session:
        record = session.get(QuarantinedMessage, record_id)
        assert record is not None
        assert record.released_at is not None
    again = client.post(path, data={"csrf_token": csrf(page), "token": hidden(page, "token")})
    assert "このメールは既に受信箱へ戻しています。" in again.get_data(as_text=True)
    assert inbox_and_junk(mail_root) == (1, 0)
    assert "このメールは既に受信箱へ戻しています。" in client.get(path).get_data(as_text=True)


def test_the_notice_links_to_the_owners_own_login_site(
    app: Flask, store: Store, mail_root: Path, smtp_sink: Sink, notify_on: int
) -> None:
    """A site that names its host (the guide's two sites share /supw on two hosts): the
    owner's release link goes there, not to the one web_url of the configuration."""
    with store.transaction() as session:
        site = accounts.require_account(session, "taro@example.jp").domain.site
        site.host_name = "support.ms246.example"
    quarantine_spam(store, mail_root, "offer")
    assert Worker(settings_for(app, smtp_sink), store).send_due() == 1
    body = smtp_sink.received[0].message.get_content()
    assert re.search(r"https://support\.ms246\.example/supw/release/[A-Za-z0-9_.\-]+", body)
    assert PUBLIC_URL not in body


def test_a_link_that_is_forged_or_for_another_mailbox_releases_nothing(
    app: Flask, client: FlaskClient, store: Store, mail_root: Path, notify_on: int
) -> None:
    record_id = quarantine_spam(store, mail_root, "held")
    with store.read() as session:
        hanako = accounts.require_account(session, "hanako@example.jp").id
    genuine = release_token("test", ReleaseTarget(notify_on, record_id, "key-held"))
    page = client.get(f"/release/{genuine}").get_data(as_text=True)
    forged = release_token("not the key", ReleaseTarget(notify_on, record_id, "key-held"))
    other = release_token("test", ReleaseTarget(hanako, record_id, "key-held"))
    # A link to an earlier copy whose row id the store gave to this one (SQLite reuses the
    # highest id after a delete): the message key tells them apart.
    reused = release_token("test", ReleaseTarget(notify_on, record_id, "key-deleted-earlier"))
    answers = {
        forged: "このリンクは無効か、有効期限が切れています。",
        "garbage": "このリンクは無効か、有効期限が切れています。",
        other: "そのメールは迷惑メールフォルダにありません。",  # signed, but not hanako's copy
        reused: "そのメールは迷惑メールフォルダにありません。",
    }
    for token, answer_text in answers.items():
        answer = client.get(f"/release/{token}")
        assert answer.status_code == 404
        assert answer_text in answer.get_data(as_text=True)
        posted = client.post(f"/release/{token}", data={"token": token, "csrf_token": csrf(page)})
        assert posted.status_code == 404
        assert "メールを受信箱へ戻しました。" not in posted.get_data(as_text=True)
    assert inbox_and_junk(mail_root) == (0, 1)
    no_csrf = client.post(f"/release/{genuine}", data={"token": genuine})
    assert no_csrf.status_code == 400  # the expired-form page: nothing changed
    assert inbox_and_junk(mail_root) == (0, 1)


def test_a_digest_lists_every_copy_of_its_interval_in_one_mail(
    app: Flask, store: Store, mail_root: Path, smtp_sink: Sink, notify_on: int
) -> None:
    for subject in ("first", "second", "third"):
        quarantine_spam(store, mail_root, subject, digest=60)
    worker = Worker(settings_for(app, smtp_sink, digest_minutes=60), store)
    assert worker.send_due() == 0  # not before the slot
    slot = notice_due(utcnow(), 60)
    assert worker.send_due(now=slot) == 3
    (mail,) = smtp_sink.received
    body = mail.message.get_content()
    assert str(mail.message["Subject"]).startswith("隔離通知メール（3通）")
    for subject in ("first", "second", "third"):
        assert f"件名: {subject}" in body
    assert all(row.sent_at is not None for row in outbox_rows(store))


def test_a_temporary_refusal_is_retried_and_a_permanent_one_given_up(
    app: Flask, store: Store, mail_root: Path, smtp_sink: Sink, notify_on: int
) -> None:
    quarantine_spam(store, mail_root, "retried")
    worker = Worker(settings_for(app, smtp_sink), store)
    smtp_sink.answer = "451 4.3.0 Try again later"
    worker.send_due()
    (row,) = outbox_rows(store)
    assert (row.sent_at, row.failed_at, row.attempts) == (None, None, 1)
    assert row.last_error is not None
    assert row.last_error.startswith("451")
    smtp_sink.answer = "250 OK"
    assert worker.send_due() == 0  # backing off
    worker.send_due(now=utcnow() + timedelta(minutes=2))
    assert len(smtp_sink.received) == 1
    assert outbox_rows(store)[0].sent_at is not None

    quarantine_spam(store, mail_root, "refused")
    smtp_sink.answer = "554 5.7.1 Refused"
    worker.send_due()
    refused = outbox_rows(store)[1]
    assert refused.failed_at is not None
    assert refused.sent_at is None
    assert len(smtp_sink.received) == 1


def test_postfix_unreachable_leaves_the_notice_for_later(
    app: Flask, store: Store, mail_root: Path, smtp_sink: Sink, notify_on: int
) -> None:
    quarantine_spam(store, mail_root, "later")
    down = dataclasses.replace(settings_for(app, smtp_sink), reinject_smtp="127.0.0.1:9")
    Worker(down, store).send_due()
    (row,) = outbox_rows(store)
    assert (row.sent_at, row.failed_at, row.attempts) == (None, None, 1)
    assert row.last_error is not None
    assert "cannot reach 127.0.0.1:9" in row.last_error
    Worker(settings_for(app, smtp_sink), store).send_due(now=utcnow() + timedelta(minutes=2))
    assert len(smtp_sink.received) == 1


def test_a_copy_released_before_its_notice_is_not_announced(
    app: Flask, store: Store, mail_root: Path, smtp_sink: Sink, notify_on: int
) -> None:
    record_id = quarantine_spam(store, mail_root, "released early")
    worker = Worker(settings_for(app, smtp_sink), store)
    app.extensions["sekisho.quarantine_folder"].release(notify_on, record_id)
    worker.send_due()
    assert smtp_sink.received == []
    assert outbox_rows(store)[0].sent_at is not None


def test_a_virus_report_names_the_virus_and_attaches_the_cleaned_original(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    cleaned = (
        b"From: shop@bad.example\nSubject: invoice\nMIME-Version: 1.0\n"
        b'Content-Type: text/plain; charset="utf-8"\n\nthe part was removed\n'
    )
    with store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        outbox.enqueue(
            session,
            outbox.VIRUS_REPORT,
            "virus_report:1:key",
            "taro@example.jp",
            account_id=taro,
            details=json.dumps(
                {
                    "virus": "Sekisho.Test.EICAR.UNOFFICIAL",
                    "sender": "shop@bad.example",
                    "subject": "請求書",
                    "received_at": "2026-11-27T01:02:03+00:00",
                }
            ),
            content=cleaned,
        )
    assert Worker(settings_for(app, smtp_sink), store).send_due() == 1
    (mail,) = smtp_sink.received
    report = mail.message
    assert report["X-Sekisho-Notice"] == "virus"
    assert str(report["Subject"]).startswith(
        "ウィルス検出のお知らせ（Sekisho.Test.EICAR.UNOFFICIAL）"
    )
    text, attached = list(report.iter_parts())
    body = text.get_content()
    assert "taro@example.jp 宛ての次のメールからウィルスが検出されたため" in body
    assert "ウィルス: Sekisho.Test.EICAR.UNOFFICIAL" in body
    assert "件名: 請求書" in body
    assert "受信日時: 2026/11/27 10:02" in body  # Japan time
    assert attached.get_content_type() == "message/rfc822"
    original = attached.get_content()
    assert original["Subject"] == "invoice"
    assert "the part was removed" in original.get_content()


def add_virus_report(store: Store, key: str, details: str, content: bytes) -> None:
    with store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp").id
        outbox.enqueue(
            session,
            outbox.VIRUS_REPORT,
            key,
            "taro@example.jp",
            account_id=taro,
            details=details,
            content=content,
        )


REPORT_DETAILS = json.dumps(
    {
        "virus": "Sekisho.Test.EICAR.UNOFFICIAL",
        "sender": "shop@bad.example",
        "subject": "x",
        "received_at": "2026-11-27T01:02:03+00:00",
    }
)


def test_an_original_with_a_long_raw_shift_jis_subject_is_reported_as_it_came(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    subject = "請求書".encode("shift_jis") + b" " + b"x" * 80
    original = b"From: shop@bad.example\nSubject: " + subject + b"\n\nremoved\n"
    add_virus_report(store, "virus_report:sjis", REPORT_DETAILS, original)
    Worker(settings_for(app, smtp_sink), store).send_due()
    (mail,) = smtp_sink.received
    assert subject in mail.content  # the raw bytes, neither refolded nor lost
    (row,) = outbox_rows(store)
    assert row.sent_at is not None


def test_a_report_that_cannot_be_built_is_given_up_and_the_others_go_out(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    add_virus_report(store, "virus_report:broken", "not json", b"Subject: a\n\nb\n")
    add_virus_report(store, "virus_report:fine", REPORT_DETAILS, b"Subject: a\n\nb\n")
    Worker(settings_for(app, smtp_sink), store).send_due()
    broken, fine = outbox_rows(store)
    assert broken.failed_at is not None
    assert broken.last_error is not None
    assert broken.last_error.startswith("cannot build")
    assert fine.sent_at is not None
    assert len(smtp_sink.received) == 1


def test_postfix_unreachable_ends_the_round_and_keeps_every_row(
    app: Flask, store: Store, smtp_sink: Sink
) -> None:
    for number in range(3):
        add_virus_report(store, f"virus_report:{number}", REPORT_DETAILS, b"Subject: a\n\nb\n")
    down = dataclasses.replace(settings_for(app, smtp_sink), reinject_smtp="127.0.0.1:9")
    assert Worker(down, store).send_due() == 3
    assert [(row.attempts, row.sent_at, row.failed_at) for row in outbox_rows(store)] == [
        (1, None, None)
    ] * 3


def test_an_owner_who_turned_notices_off_meanwhile_gets_none(
    app: Flask, store: Store, mail_root: Path, smtp_sink: Sink, notify_on: int
) -> None:
    quarantine_spam(store, mail_root, "caught while on")
    with store.transaction() as session:
        set_spam_setting(
            session, notify_on, SpamSetting(enabled=True, quarantine=True, notify=False)
        )
    Worker(settings_for(app, smtp_sink), store).send_due()
    assert smtp_sink.received == []
    assert outbox_rows(store)[0].sent_at is not None  # settled, not retried
