"""The virus scan inside one transaction, against the real clamd: removal and report per
recipient, virus over the allow list, the header on delivered copies, the refusal of an
infected submission, clamd down, and the virus and spam scans of one message together."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from sekisho.devstack.clamd import EICAR, ClamdInstance
from sekisho.devstack.spam import RspamdInstance
from sekisho.milter.actions import (
    Accept,
    AddHeader,
    Continue,
    DeleteRecipient,
    Discard,
    EndOfMessage,
    Reject,
)
from sekisho.milter.scan import VIRUS_SCAN_DOWN
from sekisho.milter.transaction import MailTransaction
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.models import OutboxMessage
from sekisho.store.outbox import VIRUS_REPORT, content_of
from sekisho.store.policies import PolicyCache
from sekisho.store.settings_doc import import_settings
from tests.conftest import CLAMD_UNUSED
from tests.scanning import transaction_on

EICAR_NAME = "Sekisho.Test.EICAR.UNOFFICIAL"
INFECTED_BODY = b"see the attachment\r\n" + EICAR + b"\r\n"
PLAIN_BODY = b"Shall we have lunch tomorrow at noon?\r\n"
Factory = Callable[..., MailTransaction]


@pytest.fixture
def transaction(
    store: Store, example_domain: str, tmp_path: Path, clamd: ClamdInstance, rspamd: RspamdInstance
) -> Factory:
    settings = {
        "taro@example.jp": {"virus_scan": True},
        "hanako@example.jp": {"virus_scan": False},
        "jiro@example.jp": {
            "virus_scan": True,
            "allow_from": ["shop@ads.example"],
            "spam_scan": {"enabled": True, "quarantine": True},
        },
        "saburo@example.jp": {
            "virus_scan": True,
            "spam_scan": {"enabled": True, "quarantine": True},
        },
    }
    with store.transaction() as session:
        for address, document in settings.items():
            accounts.add_account(session, address, "secret123")
            import_settings(session, address, document)
    cache = PolicyCache(store, 0.0)

    def build(clamd_url: str = clamd.url) -> MailTransaction:
        return transaction_on(store, cache.get, tmp_path / "mail", rspamd.url, clamd_url)

    return build


def deliver(
    transaction: MailTransaction, recipients: list[str], body: bytes, submitter: str = ""
) -> object:
    transaction.sender = "shop@ads.example"
    transaction.submitter = submitter
    for recipient in recipients:
        assert transaction.add_recipient(recipient) == Continue()
    for name, value in (
        ("From", "shop@ads.example"),
        ("To", ", ".join(recipients)),
        ("Subject", "invoice"),
        ("Message-ID", "<v1@ads.example>"),
    ):
        transaction.add_header(name, value)
    headers_end = transaction.end_of_headers()
    if headers_end != Continue():
        return headers_end
    transaction.add_body(body)
    try:
        return transaction.end_of_message()
    finally:
        transaction.close()


def reports(store: Store) -> list[OutboxMessage]:
    with store.read() as session:
        return list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.kind == VIRUS_REPORT))
        )


def test_infected_mail_is_removed_and_reported_only_where_the_scan_is_on(
    transaction: Factory, store: Store
) -> None:
    recipients = ["<taro@example.jp>", "<hanako@example.jp>"]
    end = deliver(transaction(), recipients, INFECTED_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Accept()
    assert DeleteRecipient("<taro@example.jp>") in end.edits
    assert DeleteRecipient("<hanako@example.jp>") not in end.edits
    assert AddHeader("X-Sekisho-Virus", EICAR_NAME) in end.edits  # on hanako's copy
    (report,) = reports(store)
    assert report.envelope_to == "taro@example.jp"
    details = json.loads(report.details or "")
    assert (details["virus"], details["sender"], details["subject"]) == (
        EICAR_NAME,
        "shop@ads.example",
        "invoice",
    )
    content = content_of(store, report.id)
    assert EICAR not in content
    assert b"Subject: invoice" in content
    again = deliver(transaction(), recipients, INFECTED_BODY)  # Postfix presents it again
    assert isinstance(again, EndOfMessage)
    assert len(reports(store)) == 1


def test_two_mailboxes_with_the_scan_on_get_a_report_each_of_one_disinfection(
    transaction: Factory, store: Store
) -> None:
    end = deliver(transaction(), ["<taro@example.jp>", "<saburo@example.jp>"], INFECTED_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Discard()
    assert sorted(row.envelope_to for row in reports(store)) == [
        "saburo@example.jp",
        "taro@example.jp",
    ]
    with store.read() as session:
        contents = session.scalars(
            select(OutboxMessage.content).where(OutboxMessage.kind == VIRUS_REPORT)
        ).all()
    assert len(contents) == 2
    assert contents[0] == contents[1]
    assert contents[0] is not None
    assert EICAR not in contents[0]


def test_the_virus_wins_over_the_allow_list_and_the_spam_scan(
    transaction: Factory, store: Store
) -> None:
    end = deliver(transaction(), ["<jiro@example.jp>"], INFECTED_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Discard()
    assert end.edits[0] == DeleteRecipient("<jiro@example.jp>")
    assert [report.envelope_to for report in reports(store)] == ["jiro@example.jp"]


def test_a_clean_mail_is_marked_clean(transaction: Factory) -> None:
    end = deliver(transaction(), ["<taro@example.jp>"], PLAIN_BODY)
    assert isinstance(end, EndOfMessage)
    assert end.edits == (AddHeader("X-Sekisho-Virus", "clean"),)


def test_no_recipient_with_the_scan_on_means_no_scan(transaction: Factory) -> None:
    down = transaction(clamd_url=CLAMD_UNUSED)
    assert deliver(down, ["<hanako@example.jp>"], INFECTED_BODY) == Accept()


def test_an_infected_submission_is_refused_when_the_sender_has_the_scan_on(
    transaction: Factory, store: Store
) -> None:
    end = deliver(
        transaction(), ["<someone@outside.example>"], INFECTED_BODY, submitter="taro@example.jp"
    )
    assert isinstance(end, EndOfMessage)
    assert isinstance(end.verdict, Reject)
    assert (end.verdict.code, end.verdict.xcode) == ("554", "5.7.1")
    assert EICAR_NAME in end.verdict.text
    assert end.edits == ()
    assert reports(store) == []
    passed = deliver(
        transaction(), ["<someone@outside.example>"], INFECTED_BODY, submitter="hanako@example.jp"
    )
    assert passed == Accept()  # hanako's choice: her mail is not scanned


def test_clamd_down_defers_the_mail(transaction: Factory, store: Store) -> None:
    down = transaction(clamd_url=CLAMD_UNUSED)
    end = deliver(down, ["<taro@example.jp>", "<hanako@example.jp>"], INFECTED_BODY)
    assert end == EndOfMessage((), VIRUS_SCAN_DOWN)
    assert reports(store) == []


def test_spam_and_virus_scans_of_one_message_both_decide(transaction: Factory) -> None:
    gtube = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"
    end = deliver(transaction(), ["<saburo@example.jp>", "<taro@example.jp>"], gtube)
    assert isinstance(end, EndOfMessage)
    assert DeleteRecipient("<saburo@example.jp>") in end.edits  # quarantined as spam
    assert AddHeader("X-Sekisho-Virus", "clean") in end.edits  # on taro's copy
    assert any(isinstance(e, AddHeader) and e.name == "X-Sekisho-Spam-Score" for e in end.edits)


def test_the_end_line_counts_virus_removals_apart_from_quarantines(
    transaction: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    """The milter's ``end`` log line: two mailboxes with the scan on lose the infected
    mail (virus_removed=2), which is no quarantine (quarantined=0); hanako keeps it."""
    recipients = ["<taro@example.jp>", "<saburo@example.jp>", "<hanako@example.jp>"]
    with caplog.at_level(logging.INFO, logger="sekisho.milter"):
        end = deliver(transaction(), recipients, INFECTED_BODY)
    assert isinstance(end, EndOfMessage)
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("end ")]
    fields = dict(field.split("=", 1) for field in line.split()[1:])
    assert fields["virus_removed"] == "2"
    assert fields["quarantined"] == "0"
    assert (fields["delivered"], fields["verdict"]) == ("1", "accept")
