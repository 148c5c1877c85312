"""SRS for forwarded mail: the milter asks a real postsrsd for the envelope sender the
forwarded copies leave with, and defers the mail when postsrsd cannot answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sekisho.devstack.ports import free_port
from sekisho.devstack.postsrsd import PostsrsdInstance
from sekisho.milter.actions import (
    Accept,
    AddRecipient,
    ChangeSender,
    Continue,
    EndOfMessage,
)
from sekisho.milter.srs import PostsrsdLookup, SrsError
from sekisho.milter.transaction import SRS_DOWN, SenderRewrite
from sekisho.rules.forwarding import ForwardTarget
from sekisho.rules.model import Policy
from sekisho.store.db import Store
from sekisho.store.migrate import upgrade
from tests.scanning import transaction_on

POLICIES = {
    "taro@example.jp": Policy(
        "taro@example.jp", 1, 1, forward_to=(ForwardTarget("jiro@mobile.example", True),)
    ),
    "hanako@example.jp": Policy("hanako@example.jp", 2, 1),
}


@pytest.fixture(scope="module")
def postsrsd(run_root: Path) -> Iterator[PostsrsdInstance]:
    folder = run_root / "postsrsd-unit"
    folder.mkdir(exist_ok=True)
    server = PostsrsdInstance(folder, "example.jp", ("example.ne.jp",))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    store = Store(url)
    yield store
    store.dispose()


def deliver(
    store: Store, tmp_path: Path, rewrite: SenderRewrite | None, sender: str, recipient: str
) -> EndOfMessage | Accept:
    transaction = transaction_on(store, POLICIES.get, tmp_path / "mail", rewrite_sender=rewrite)
    transaction.sender = sender
    assert transaction.add_recipient(f"<{recipient}>") == Continue()
    transaction.add_header("From", sender or "MAILER-DAEMON@mobile.example")
    transaction.add_header("Subject", "hello")
    if transaction.end_of_headers() == Accept():
        return Accept()
    transaction.add_body(b"body\r\n")
    try:
        return transaction.end_of_message()
    finally:
        transaction.close()


def senders(end: EndOfMessage | Accept) -> list[str]:
    assert isinstance(end, EndOfMessage)
    return [edit.sender for edit in end.edits if isinstance(edit, ChangeSender)]


def test_a_forwarded_mail_gets_postsrsd_s_sender(
    postsrsd: PostsrsdInstance, sqlite_store: Store, tmp_path: Path
) -> None:
    lookup = PostsrsdLookup(postsrsd.forward_lookup).forward
    end = deliver(sqlite_store, tmp_path, lookup, "<Alice@ok.example>", "taro@example.jp")
    assert AddRecipient("jiro@mobile.example") in end.edits
    (sender,) = senders(end)
    assert sender.startswith("SRS0=")
    assert sender.endswith("=ok.example=Alice@example.jp")


@pytest.mark.parametrize(
    "sender",
    ["<>", "<taro@example.jp>", "<someone@example.ne.jp>"],
    ids=["null", "srs-domain", "excluded"],
)
def test_bounces_and_local_senders_keep_their_sender(
    postsrsd: PostsrsdInstance, sqlite_store: Store, tmp_path: Path, sender: str
) -> None:
    lookup = PostsrsdLookup(postsrsd.forward_lookup).forward
    end = deliver(sqlite_store, tmp_path, lookup, sender, "taro@example.jp")
    assert AddRecipient("jiro@mobile.example") in end.edits
    assert senders(end) == []


def test_postsrsd_down_defers_a_forwarded_mail(sqlite_store: Store, tmp_path: Path) -> None:
    lookup = PostsrsdLookup(f"127.0.0.1:{free_port()}", timeout=1).forward
    end = deliver(sqlite_store, tmp_path, lookup, "<alice@ok.example>", "taro@example.jp")
    assert end == EndOfMessage((), SRS_DOWN)
    assert (SRS_DOWN.code, SRS_DOWN.xcode) == ("451", "4.3.0")


def test_mail_that_is_not_forwarded_never_asks_postsrsd(
    sqlite_store: Store, tmp_path: Path
) -> None:
    def unreachable(sender: str) -> str:
        raise SrsError("must not be asked")

    end = deliver(sqlite_store, tmp_path, unreachable, "<alice@ok.example>", "hanako@example.jp")
    assert end == Accept()
