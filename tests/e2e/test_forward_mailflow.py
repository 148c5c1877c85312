"""転送設定 through real Postfix: the milter adds the target (and removes the mailbox for
残さない); Postfix relays the copy to the next hop, an aiosmtpd sink here. Only delivered
mail is forwarded, and a copy this mailbox already forwarded is never forwarded again.
A real postsrsd gives forwarded mail its SRS envelope sender and routes bounces back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_mailflow import import_settings
from tests.e2e.test_rules_mailflow import send_raw
from tests.smtpsink import Received, Sink

TARO_INBOX = "example.jp/taro/new"
HANAKO_INBOX = "example.jp/hanako/new"


@pytest.fixture(scope="module")
def forward_stack(run_root: Path, next_hop: Sink) -> Iterator[MailHarness]:
    yield from start_harness(run_root / "forward", relay=next_hop.address, with_srs=True)


@pytest.fixture
def mail(forward_stack: MailHarness, next_hop: Sink) -> MailHarness:
    forward_stack.reset()
    next_hop.received.clear()
    forward_stack.add_account("taro@example.jp")
    forward_stack.add_account("hanako@example.jp")
    return forward_stack


def relayed(sink: Sink, count: int = 1, timeout: float = 15.0) -> list[Received]:
    deadline = time.monotonic() + timeout
    while len(sink.received) < count:
        assert time.monotonic() < deadline, "nothing reached the next hop"
        time.sleep(0.05)
    return sink.received


def test_keep_delivers_to_the_mailbox_and_forwards(mail: MailHarness, next_hop: Sink) -> None:
    import_settings(
        mail, "taro@example.jp", {"forwarding": [{"to": "jiro@mobile.example", "keep": True}]}
    )
    mail.send("friend@ok.example", ["taro@example.jp"], subject="for taro")
    (copy,) = relayed(next_hop)
    assert copy.recipients == ["jiro@mobile.example"]
    assert b"Subject: for taro" in copy.content
    assert b"X-Sekisho-Forwarded: taro@example.jp" in copy.content
    mail.wait_for_files(TARO_INBOX)


def test_do_not_keep_only_forwards(mail: MailHarness, next_hop: Sink) -> None:
    import_settings(
        mail, "taro@example.jp", {"forwarding": [{"to": "jiro@mobile.example", "keep": False}]}
    )
    mail.send("friend@ok.example", ["taro@example.jp", "hanako@example.jp"], subject="both")
    (copy,) = relayed(next_hop)
    assert copy.recipients == ["jiro@mobile.example"]
    mail.wait_for_files(HANAKO_INBOX)
    mail.wait_until_delivered()
    assert TARO_INBOX not in mail.files()


def test_quarantined_mail_is_not_forwarded(mail: MailHarness, next_hop: Sink) -> None:
    import_settings(
        mail,
        "taro@example.jp",
        {
            "forwarding": [{"to": "jiro@mobile.example", "keep": False}],
            "reject_from": ["bad.example"],
        },
    )
    mail.send("x@bad.example", ["taro@example.jp"], subject="caught")
    mail.wait_for_files("example.jp/taro/.Junk/new")
    mail.wait_until_delivered()
    assert next_hop.received == []


def test_a_mail_this_mailbox_already_forwarded_comes_home(
    mail: MailHarness, next_hop: Sink
) -> None:
    """An outside address that forwards back: the copy returns with the trace and is
    delivered, not sent round again."""
    import_settings(
        mail, "taro@example.jp", {"forwarding": [{"to": "jiro@mobile.example", "keep": False}]}
    )
    mail.send("friend@ok.example", ["taro@example.jp"], subject="round trip")
    (copy,) = relayed(next_hop)
    next_hop.received.clear()
    send_raw(mail, "jiro@mobile.example", ["taro@example.jp"], copy.content)
    mail.wait_for_files(TARO_INBOX)
    mail.wait_until_delivered()
    assert next_hop.received == []


def test_a_forged_trace_does_not_switch_forwarding_off(mail: MailHarness, next_hop: Sink) -> None:
    import_settings(
        mail, "taro@example.jp", {"forwarding": [{"to": "jiro@mobile.example", "keep": False}]}
    )
    send_raw(
        mail,
        "someone@outside.example",
        ["taro@example.jp"],
        b"From: someone@outside.example\r\nSubject: forged\r\nMessage-ID: <f@outside.example>\r\n"
        b"X-Sekisho-Forwarded: taro@example.jp\r\n"
        b"X-Sekisho-Forwarded: taro@example.jp; mac=00000000000000000000000000000000\r\n"
        b"\r\nplease stay here\r\n",
    )
    (copy,) = relayed(next_hop)
    assert copy.recipients == ["jiro@mobile.example"]


def test_two_mailboxes_forwarding_to_each_other_end_after_one_round(
    mail: MailHarness, next_hop: Sink
) -> None:
    import_settings(
        mail, "taro@example.jp", {"forwarding": [{"to": "hanako@example.jp", "keep": True}]}
    )
    import_settings(
        mail, "hanako@example.jp", {"forwarding": [{"to": "taro@example.jp", "keep": True}]}
    )
    mail.send("friend@ok.example", ["taro@example.jp"], subject="ping")
    mail.wait_for_files(TARO_INBOX)
    mail.wait_for_files(HANAKO_INBOX)
    mail.wait_until_delivered()
    assert len(mail.files()[TARO_INBOX]) == 1
    assert len(mail.files()[HANAKO_INBOX]) == 1
    assert next_hop.received == []


def return_path(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    assert first.startswith("Return-Path: <"), first
    return first.removeprefix("Return-Path: <").removesuffix(">")


def test_forwarded_mail_leaves_with_an_srs_envelope_sender(
    mail: MailHarness, next_hop: Sink
) -> None:
    """The next hop's SPF check sees our domain; the kept copy carries the same sender
    (one message has one envelope sender), a mailbox that does not forward the original."""
    import_settings(
        mail, "taro@example.jp", {"forwarding": [{"to": "jiro@mobile.example", "keep": True}]}
    )
    mail.send("Friend@ok.example", ["taro@example.jp"], subject="srs")
    mail.send("Friend@ok.example", ["hanako@example.jp"], subject="not forwarded")
    (copy,) = relayed(next_hop)
    local, _, domain = copy.envelope_from.partition("@")
    assert domain == "example.jp"
    assert local.startswith("SRS0=")
    assert local.endswith("=ok.example=Friend")
    (kept,) = mail.wait_for_files(TARO_INBOX)
    assert return_path(kept) == copy.envelope_from
    (plain,) = mail.wait_for_files(HANAKO_INBOX)
    assert return_path(plain) == "Friend@ok.example"


def test_a_bounce_to_the_srs_sender_reaches_the_original_sender(
    mail: MailHarness, next_hop: Sink
) -> None:
    import_settings(
        mail, "taro@example.jp", {"forwarding": [{"to": "jiro@mobile.example", "keep": False}]}
    )
    mail.send("friend@ok.example", ["taro@example.jp"], subject="will bounce")
    (copy,) = relayed(next_hop)
    send_raw(
        mail,
        "",
        [copy.envelope_from],
        b"From: MAILER-DAEMON@mobile.example\r\nSubject: Undelivered Mail\r\n\r\nbounce\r\n",
    )
    bounce = relayed(next_hop, 2)[1]
    assert bounce.recipients == ["friend@ok.example"]
    assert bounce.envelope_from == "<>"  # the null sender, as aiosmtpd gives it


def test_a_local_sender_is_forwarded_unchanged(mail: MailHarness, next_hop: Sink) -> None:
    import_settings(
        mail, "hanako@example.jp", {"forwarding": [{"to": "jiro@mobile.example", "keep": False}]}
    )
    mail.send("taro@example.jp", ["hanako@example.jp"], subject="from a neighbour")
    (copy,) = relayed(next_hop)
    assert copy.envelope_from == "taro@example.jp"


def test_a_forward_to_another_mailbox_of_ours_gets_that_mailboxs_own_rules(
    mail: MailHarness, next_hop: Sink
) -> None:
    """taro forwards to hanako: hanako's reject list catches the copy into her spam folder
    (Postfix would deliver an added recipient without the milter), taro keeps his."""
    import_settings(
        mail, "taro@example.jp", {"forwarding": [{"to": "hanako@example.jp", "keep": True}]}
    )
    import_settings(mail, "hanako@example.jp", {"reject_subject": ["limited offer"]})
    mail.send("shop@store.example", ["taro@example.jp"], subject="a limited offer")
    mail.wait_for_files("example.jp/hanako/.Junk/new")
    mail.wait_for_files(TARO_INBOX)
    mail.wait_until_delivered()
    found = mail.files()
    assert HANAKO_INBOX not in found
    assert len(found["example.jp/hanako/.Junk/new"]) == 1
    assert len(found[TARO_INBOX]) == 1
    assert next_hop.received == []


def test_a_forward_chain_through_our_mailboxes_follows_each_ones_settings(
    mail: MailHarness, next_hop: Sink
) -> None:
    """taro → hanako (残さない) → jiro@mobile.example: hanako's own forwarding is applied to
    the copy she receives from taro; each mailbox once."""
    import_settings(
        mail, "taro@example.jp", {"forwarding": [{"to": "hanako@example.jp", "keep": True}]}
    )
    import_settings(
        mail,
        "hanako@example.jp",
        {
            "forwarding": [
                {"to": "jiro@mobile.example", "keep": False},
                {"to": "taro@example.jp", "keep": False},
            ]
        },
    )
    mail.send("friend@ok.example", ["taro@example.jp"], subject="pass it on")
    (copy,) = relayed(next_hop)
    assert copy.recipients == ["jiro@mobile.example"]
    mail.wait_for_files(TARO_INBOX)
    mail.wait_until_delivered()
    found = mail.files()
    assert len(found[TARO_INBOX]) == 1
    assert HANAKO_INBOX not in found
