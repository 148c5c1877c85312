"""The password change is the real POP login: a real Dovecot (POP3 and IMAP on 127.0.0.1,
built from deploy/dovecot/) reads the same store, so after 「変更」 the old password stops
working and the new one works, for POP3 and for SASL submission through Postfix alike;
over IMAP the quarantine is the folder "Junk", which mail programs are told is for junk
(RFC 6154), as Sent, Drafts and Trash are for theirs. An account imported with its earlier
POP server's hash logs in to Dovecot with its original password, before and after the web
login that replaces the hash by an ARGON2ID one."""

from __future__ import annotations

import imaplib
import poplib
import re
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from sekisho.config import load_settings
from sekisho.devstack.spam import RspamdInstance
from sekisho.store.models import Account
from sekisho.store.passwords import scheme_of
from sekisho.webui import create_app
from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_mailflow import import_settings
from tests.e2e.test_spam_mailflow import GTUBE
from tests.imported_hashes import HASHES, PASSWORD
from tests.webclient import csrf, login


@pytest.fixture(scope="module")
def dovecot_stack(run_root: Path, rspamd: RspamdInstance) -> Iterator[MailHarness]:
    yield from start_harness(run_root / "pop3", with_dovecot=True, spam_engine=rspamd.url)


def pop3_login(mail: MailHarness, password: str) -> bool:
    assert mail.stack.dovecot is not None
    client = poplib.POP3("127.0.0.1", mail.stack.dovecot.pop3_port, timeout=10)
    try:
        client.user("taro@example.jp")
        client.pass_(password)
    except poplib.error_proto:
        return False
    finally:
        client.quit()
    return True


def submission_login(mail: MailHarness, password: str) -> bool:
    with smtplib.SMTP("127.0.0.1", mail.stack.submission_port, timeout=10) as client:
        try:
            client.login("taro@example.jp", password)
        except smtplib.SMTPAuthenticationError:
            return False
    return True


def web_client(mail: MailHarness) -> FlaskClient:
    settings = load_settings(
        environ={
            "SEKISHO_DATABASE_URL": mail.stack.database_url,
            "SEKISHO_MAIL_ROOT": str(mail.mail_root),
            "SEKISHO_SECRET_KEY": "pop3-test",
        }
    )
    return create_app(settings, mail.store).test_client()


def test_the_pop3_and_submission_logins_follow_the_change(dovecot_stack: MailHarness) -> None:
    mail = dovecot_stack
    mail.reset()
    mail.add_account("taro@example.jp", "taro1234")
    mail.send("friend@ok.example", ["taro@example.jp"], subject="before the change")
    mail.wait_for_files("example.jp/taro/new")
    assert pop3_login(mail, "taro1234")
    assert submission_login(mail, "taro1234")

    client = web_client(mail)
    login(client, "taro@example.jp", "taro1234")
    page = client.get("/password/").get_data(as_text=True)
    done = client.post(
        "/password/",
        data={
            "current": "taro1234",
            "new": "Mail2026/new",
            "again": "Mail2026/new",
            "csrf_token": csrf(page),
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "POP アカウントパスワード変更完了" in done

    assert not pop3_login(mail, "taro1234")
    assert pop3_login(mail, "Mail2026/new")
    assert not submission_login(mail, "taro1234")
    assert submission_login(mail, "Mail2026/new")


def test_imap_shows_the_inbox_and_the_quarantine_as_junk(dovecot_stack: MailHarness) -> None:
    mail = dovecot_stack
    mail.reset()
    mail.add_account("taro@example.jp", "taro1234")
    import_settings(mail, "taro@example.jp", {"reject_from": ["bad.example"]})
    mail.send("friend@ok.example", ["taro@example.jp"], subject="to the inbox")
    mail.send("x@bad.example", ["taro@example.jp"], subject="to the quarantine")
    mail.wait_for_files("example.jp/taro/new")
    mail.wait_for_files("example.jp/taro/.Junk/new")
    assert mail.stack.dovecot is not None
    with imaplib.IMAP4("127.0.0.1", mail.stack.dovecot.imap_port) as client:
        client.login("taro@example.jp", "taro1234")
        subjects = {}
        for folder in ("INBOX", "Junk"):
            status, data = client.select(folder, readonly=True)
            assert status == "OK", data
            status, fetched = client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            assert status == "OK"
            subjects[folder] = [
                part[1].decode().strip() for part in fetched if isinstance(part, tuple)
            ]
    assert subjects == {
        "INBOX": ["Subject: to the inbox"],
        "Junk": ["Subject: to the quarantine"],
    }


def test_pop3_serves_the_tagged_copy_the_milter_wrote_into_a_new_inbox(
    dovecot_stack: MailHarness,
) -> None:
    """jiro takes spam tagged, hanako has no scan: GTUBE to both gives jiro a copy the
    milter writes itself, into an inbox it creates (his first mail). Dovecot, reading as
    the mailbox owner, serves it over POP3 like any delivered mail."""
    mail = dovecot_stack
    mail.reset()
    mail.add_account("jiro@example.jp", "jiro1234")
    mail.add_account("hanako@example.jp", "hanako123")
    import_settings(mail, "jiro@example.jp", {"spam_scan": {"enabled": True, "quarantine": False}})
    import_settings(mail, "hanako@example.jp", {"spam_scan": {"enabled": False}})
    mail.send("shop@ads.example", ["jiro@example.jp", "hanako@example.jp"], "big offer", GTUBE)
    mail.wait_for_files("example.jp/hanako/new")
    (written,) = mail.wait_for_files("example.jp/jiro/new")
    assert written.name.startswith("K")  # the milter's keyed name, not Postfix's
    assert mail.stack.dovecot is not None
    client = poplib.POP3("127.0.0.1", mail.stack.dovecot.pop3_port, timeout=10)
    try:
        client.user("jiro@example.jp")
        client.pass_("jiro1234")
        assert client.stat()[0] == 1
        _, lines, _ = client.retr(1)
    finally:
        client.quit()
    assert b"Subject: [spam] big offer" in lines
    assert b"Delivered-To: jiro@example.jp" in lines


def test_imap_marks_the_special_folders_for_mail_programs(dovecot_stack: MailHarness) -> None:
    """RFC 6154: a mail program asks which folder is for junk, sent, drafts and trash."""
    mail = dovecot_stack
    mail.reset()
    mail.add_account("taro@example.jp", "taro1234")
    assert mail.stack.dovecot is not None
    with imaplib.IMAP4("127.0.0.1", mail.stack.dovecot.imap_port) as client:
        client.login("taro@example.jp", "taro1234")
        status, capabilities = client.capability()
        assert status == "OK"
        assert b"SPECIAL-USE" in capabilities[0].split()
        status, listed = client.list('""', '"*" RETURN (SPECIAL-USE)')
        assert status == "OK", listed
    flags = {}
    for line in listed:
        assert isinstance(line, bytes)
        found = re.fullmatch(rb'\((.*)\) "[./]" "?([^"]+)"?', line)
        assert found, line
        flags[found.group(2).decode()] = set(found.group(1).decode().split())
    special = {"\\Junk", "\\Sent", "\\Drafts", "\\Trash"}
    assert {name: flags[name] & special for name in flags} == {
        "INBOX": set(),
        "Junk": {"\\Junk"},
        "Sent": {"\\Sent"},
        "Drafts": {"\\Drafts"},
        "Trash": {"\\Trash"},
    }


@pytest.mark.parametrize(
    "scheme",
    [
        "SHA512-CRYPT",
        "SHA256-CRYPT",
        "BLF-CRYPT",
        "MD5-CRYPT",
        "SSHA512",
        "SSHA",
        "CRYPT",
        "PLAIN-MD5",
    ],
)
def test_an_imported_hash_logs_in_before_and_after_its_rehash(
    dovecot_stack: MailHarness, scheme: str
) -> None:
    mail = dovecot_stack
    mail.reset()
    mail.add_account("taro@example.jp", "Other2026")
    with mail.store.transaction() as session:
        session.execute(
            update(Account)
            .where(Account.address == "taro@example.jp")
            .values(password_hash=HASHES[scheme], must_change_password=False)
        )
    assert pop3_login(mail, PASSWORD)
    assert not pop3_login(mail, "taro1235")
    assert submission_login(mail, PASSWORD)

    assert "ログアウト" in login(web_client(mail), "taro@example.jp", PASSWORD)
    with mail.store.read() as session:
        stored = session.scalars(select(Account.password_hash)).one()
    assert scheme_of(stored) == "ARGON2ID"
    assert pop3_login(mail, PASSWORD)
    assert submission_login(mail, PASSWORD)
