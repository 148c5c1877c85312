"""Through real Postfix with a real spam engine (rspamd, then spamd): GTUBE to three
mailboxes — scan off, scan + quarantine, scan + tag — and a plain mail to all three."""

from __future__ import annotations

import re
import smtplib
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest

from sekisho.devstack.ports import free_port
from sekisho.devstack.postfix import PostfixInstance
from sekisho.devstack.spam import RspamdInstance, SpamdInstance
from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_mailflow import import_settings

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n"
MAILBOXES = {
    "taro@example.jp": {"enabled": False},
    "hanako@example.jp": {"enabled": True, "quarantine": True},
    "jiro@example.jp": {"enabled": True, "quarantine": False},
}


Engine = RspamdInstance | SpamdInstance


@pytest.fixture(scope="module", params=["rspamd", "spamd"])
def spam_stack(
    request: pytest.FixtureRequest, run_root: Path
) -> Iterator[tuple[MailHarness, Engine]]:
    engine_class = RspamdInstance if request.param == "rspamd" else SpamdInstance
    engine: Engine = engine_class(run_root / f"spam-{request.param}-engine")
    engine.start()
    try:
        for harness in start_harness(run_root / f"spam-{request.param}", spam_engine=engine.url):
            yield harness, engine
    finally:
        engine.stop()


@pytest.fixture
def mail(spam_stack: tuple[MailHarness, Engine]) -> MailHarness:
    harness, _ = spam_stack
    harness.reset()
    for address, switches in MAILBOXES.items():
        harness.add_account(address)
        import_settings(harness, address, {"spam_scan": switches})
    return harness


def send_to_all_three(mail: MailHarness, subject: str, body: str) -> None:
    """One transaction for the three mailboxes: none is refused at RCPT."""
    assert mail.send("shop@ads.example", list(MAILBOXES), subject=subject, body=body) == {}


def only_copy(mail: MailHarness, folder: str) -> bytes:
    (copy,) = mail.wait_for_files(folder)
    return copy.read_bytes()


def test_gtube_is_untouched_quarantined_and_tagged_as_each_owner_chose(mail: MailHarness) -> None:
    send_to_all_three(mail, "big offer", GTUBE)
    taro = message_from_bytes(only_copy(mail, "example.jp/taro/new"))
    hanako = message_from_bytes(only_copy(mail, "example.jp/hanako/.Junk/new"))
    jiro = message_from_bytes(only_copy(mail, "example.jp/jiro/new"))
    mail.wait_until_delivered()
    assert taro["Subject"] == "big offer"
    assert hanako["X-Sekisho-Quarantine-Reason"].startswith("rule=spam;")
    assert jiro["Subject"] == "[spam] big offer"
    assert jiro["X-Sekisho-Spam-Score"]
    assert jiro["Message-ID"] == taro["Message-ID"]
    # jiro's copy, written by the milter, has the fields Postfix's delivery would have
    # given it, and the Received field Postfix wrote for the client (the milter never sees it).
    assert jiro["Delivered-To"] == "jiro@example.jp"
    assert jiro["Return-Path"] == "<shop@ads.example>"
    (client_trace,) = jiro.get_all("Received")
    assert client_trace.startswith("from ")
    assert "(unknown [127.0.0.1])" in client_trace
    assert "(Postfix) with ESMTP id " in client_trace
    assert set(mail.files()) == {
        "example.jp/taro/new",
        "example.jp/hanako/.Junk/new",
        "example.jp/jiro/new",
    }


def test_a_plain_mail_reaches_all_three_untouched(mail: MailHarness) -> None:
    send_to_all_three(mail, "lunch", "Shall we have lunch tomorrow at noon?\n")
    for user in ("taro", "hanako", "jiro"):
        copy = message_from_bytes(only_copy(mail, f"example.jp/{user}/new"))
        assert copy["Subject"] == "lunch"
    mail.wait_until_delivered()
    assert not any(".Junk" in folder for folder in mail.files())


def engine_log_line(engine: Engine, *needles: str, timeout: float = 15.0) -> str:
    """The engine's log line about one message (it writes one per scan)."""
    deadline = time.monotonic() + timeout
    while True:
        text = engine.log_file.read_text(errors="replace") if engine.log_file.exists() else ""
        lines = [line for line in text.splitlines() if all(n in line for n in needles)]
        if lines:
            return lines[-1]
        assert time.monotonic() < deadline, f"no line with {needles} in {engine.log_file}"
        time.sleep(0.1)


def test_the_engine_is_told_where_the_mail_came_from(
    mail: MailHarness, spam_stack: tuple[MailHarness, Engine]
) -> None:
    """Postfix shows milters the message without the Received field it adds, so the
    milter passes the client on: rspamd gets it (and MAIL FROM and the queue id) as
    request fields, spamd as the Received field Postfix writes. The engines' own log lines
    show what they were told."""
    _, engine = spam_stack
    mail.send("shop@ads.example", ["hanako@example.jp"], subject="lunch", body="At noon?\n")
    delivered = message_from_bytes(only_copy(mail, "example.jp/hanako/new"))
    trace = re.search(r"with ESMTP id (\w+)", delivered["Received"])
    assert trace is not None
    if isinstance(engine, RspamdInstance):
        line = engine_log_line(engine, f"qid: <{trace.group(1)}>")
        assert "ip: 127.0.0.1" in line
        assert "from: <shop@ads.example>" in line
        assert "rcpts: <hanako@example.jp>" in line
    else:
        line = engine_log_line(engine, "result:", f"mid={delivered['Message-ID']}")
        assert "NO_RELAYS" not in line
        assert "NO_RECEIVED" not in line


def test_the_engine_down_defers_and_the_retry_is_scanned(
    mail: MailHarness, spam_stack: tuple[MailHarness, Engine]
) -> None:
    _, engine = spam_stack
    engine.stop()
    engine.wait_stopped()
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            mail.send("shop@ads.example", ["hanako@example.jp"], subject="retry me", body=GTUBE)
        assert refused.value.smtp_code == 451
        assert b"4.7.1 Spam scan temporarily unavailable" in refused.value.smtp_error
    finally:
        engine.start()
    mail.send("shop@ads.example", ["hanako@example.jp"], subject="retry me", body=GTUBE)
    copy = message_from_bytes(only_copy(mail, "example.jp/hanako/.Junk/new"))
    assert copy["Subject"] == "retry me"


def test_a_sending_postfix_delivers_to_all_three_in_one_go(
    mail: MailHarness, run_root: Path, request: pytest.FixtureRequest
) -> None:
    """A real Postfix as the sending MTA (no milter, relaying to the stack): one
    transaction, nothing deferred, the tagging mailbox's copy tagged. (A 452 4.5.3 split
    at RCPT, tried before, made Postfix 3.7 defer the refused recipient to its next queue
    run, 300 s by default.)"""
    run = run_root / f"sender-{request.node.callspec.id}"
    run.mkdir(mode=0o755)
    sender = PostfixInstance(
        run=run,
        mail_root=run / "mail",
        smtp_port=free_port(),
        reinject_port=free_port(),
        milter="",
        database_url=mail.stack.database_url,
        extra_main={
            "virtual_mailbox_domains": "",
            "relayhost": f"[127.0.0.1]:{mail.stack.smtp_port}",
        },
    )
    sender.start()
    try:
        message = EmailMessage()
        message["From"] = "shop@ads.example"
        message["To"] = ", ".join(MAILBOXES)
        message["Subject"] = "through a sending MTA"
        message.set_content(GTUBE)
        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", sender.smtp_port, timeout=30) as client:
            assert client.send_message(message, "shop@ads.example", list(MAILBOXES)) == {}
        only_copy(mail, "example.jp/taro/new")
        only_copy(mail, "example.jp/hanako/.Junk/new")
        jiro = message_from_bytes(only_copy(mail, "example.jp/jiro/new"))
        assert time.monotonic() - started < 15
        sender.wait_until_idle()
        log = sender.log_tail(200)
        assert "status=deferred" not in log, log
        assert log.count("status=sent") == 3, log
    finally:
        sender.stop()
    assert jiro["Subject"] == "[spam] through a sending MTA"
