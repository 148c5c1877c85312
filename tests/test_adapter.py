"""The pymilter adapter driven through pymilter's own test context (no MTA): negotiated
round trips, verdicts, and every failure becoming a 451 with nothing removed."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import Milter
import pytest
from Milter.testctx import TestCtx as MilterContext

from sekisho import metrics
from sekisho.config import Settings
from sekisho.maildir import Ownership
from sekisho.milter.adapter import SekishoMilter
from sekisho.milter.collected import content_limits
from sekisho.milter.quarantine import Quarantine
from sekisho.milter.tagged_copy import TaggedCopies
from sekisho.milter.transaction import MailTransaction
from sekisho.milter.virus_report import VirusReports
from sekisho.rules.lists import REJECT_FROM
from sekisho.scanners.spam import spam_engine
from sekisho.scanners.virus import clamd_scanner
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.delivery_log import Mailed, rows_of
from sekisho.store.hits import HitCounter
from sekisho.store.lists import add_values
from sekisho.store.policies import PolicyCache
from tests.conftest import CLAMD_UNUSED
from tests.scanning import at_once

# No mailbox here turns the spam scan on; a scan would fail loudly on this closed port.
SPAM_ENGINE_UNUSED = "rspamd://127.0.0.1:9"


def context_for(
    store: Store, mail_root: Path, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> MilterContext:
    cache = PolicyCache(store, 0.0)
    quarantine = Quarantine(store, mail_root, Ownership())

    def new_transaction() -> MailTransaction:
        return MailTransaction(
            cache.get,
            quarantine,
            spool_memory_bytes=1024,
            record_hit=HitCounter(store).record,
            scan_spam=at_once(spam_engine(SPAM_ENGINE_UNUSED, timeout=1).scan),
            scan_virus=at_once(clamd_scanner(CLAMD_UNUSED, timeout=1).scan),
            virus_reports=VirusReports(store),
            tagged_copies=TaggedCopies(store, mail_root, Ownership()),
            **options,
        )

    monkeypatch.setattr(Milter, "factory", lambda: SekishoMilter(new_transaction))
    ctx = MilterContext()
    ctx._negotiate()
    return ctx


@pytest.fixture
def ctx(
    store: Store, example_domain: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MilterContext]:
    with store.transaction() as session:
        accounts.add_account(session, "taro@example.jp", "secret123")
        accounts.add_account(session, "hanako@example.jp", "secret123")
        add_values(
            session,
            accounts.require_account(session, "taro@example.jp").id,
            REJECT_FROM,
            ["bad.example"],
        )
    context = context_for(store, tmp_path / "mail", monkeypatch)
    yield context
    context._close()


def begin(ctx: MilterContext, sender: str, *recipients: str) -> list[int]:
    codes = [ctx._priv.envfrom(f"<{sender}>")]
    codes += [ctx._priv.envrcpt(f"<{r}>") for r in recipients]
    codes.append(ctx._priv.header("From", sender))
    codes.append(ctx._priv.header("Subject", "hello"))
    return codes


def test_negotiation_skips_what_sekisho_does_not_need(ctx: MilterContext) -> None:
    for step in (
        Milter.P_NR_HELO,  # the HELO name is kept for the spam engine, unanswered
        Milter.P_NODATA,
        Milter.P_NOUNKNOWN,
        Milter.P_NR_HDR,
        Milter.P_NR_BODY,
    ):
        assert ctx._protocol & step
    # RCPT must be answered: a store failure is a per-recipient 451. MAIL FROM too, and
    # the connect callback is needed: a submission from abroad is refused there.
    assert not ctx._protocol & (Milter.P_NORCPT | Milter.P_NR_RCPT)
    assert not ctx._protocol & (Milter.P_NOCONNECT | Milter.P_NR_MAIL)


def test_nobody_caught_is_accepted_at_end_of_headers(ctx: MilterContext) -> None:
    assert begin(ctx, "friend@good.example", "taro@example.jp") == [
        Milter.CONTINUE,
        Milter.CONTINUE,
        Milter.NOREPLY,
        Milter.NOREPLY,
    ]
    assert ctx._priv.eoh() == Milter.ACCEPT


def test_caught_recipient_is_removed_and_the_other_kept(ctx: MilterContext, tmp_path: Path) -> None:
    begin(ctx, "x@bad.example", "taro@example.jp", "hanako@example.jp")
    assert ctx._priv.eoh() == Milter.CONTINUE
    assert ctx._priv.body(b"body\r\n") == Milter.NOREPLY
    assert ctx._eom() == Milter.ACCEPT
    assert ctx._delrcpt == ["<taro@example.jp>"]
    assert len(list((tmp_path / "mail/example.jp/taro/.Junk/new").iterdir())) == 1


def test_everyone_caught_is_discarded(ctx: MilterContext) -> None:
    begin(ctx, "x@bad.example", "taro@example.jp")
    ctx._priv.eoh()
    ctx._priv.body(b"body\r\n")
    assert ctx._eom() == Milter.DISCARD


def test_unwritable_quarantine_defers_the_whole_message(ctx: MilterContext, tmp_path: Path) -> None:
    (tmp_path / "mail").write_text("not a folder")  # the Maildir root cannot be created
    begin(ctx, "x@bad.example", "taro@example.jp", "hanako@example.jp")
    ctx._priv.eoh()
    ctx._priv.body(b"body\r\n")
    assert ctx._eom() == Milter.TEMPFAIL
    assert ctx._reply == ("451", "4.3.0", "Temporary mail filter problem, try again later")
    assert ctx._delrcpt == []


def test_store_down_defers_the_recipient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database" * 100)
    ctx = context_for(Store(f"sqlite:///{broken}"), tmp_path / "mail", monkeypatch)
    page = metrics.milter_page()
    counted = {"reason": "store_down"}
    before = page.get_sample_value("sekisho_tempfails_total", counted) or 0
    assert ctx._priv.envfrom("<x@bad.example>") == Milter.CONTINUE
    assert ctx._priv.envrcpt("<taro@example.jp>") == Milter.TEMPFAIL
    assert ctx._reply == ("451", "4.3.0", "Mail filter settings are unavailable, try again later")
    assert page.get_sample_value("sekisho_tempfails_total", counted) == before + 1
    ctx._close()


def test_callbacks_without_a_transaction_defer(ctx: MilterContext) -> None:
    """An end of headers with no MAIL FROM seen (a lost state) must not accept."""
    assert ctx._priv.eoh() == Milter.TEMPFAIL
    assert ctx._reply[0] == "451"


def test_spool_failure_while_collecting_defers_at_end_of_message(
    ctx: MilterContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body chunk gets no reply, so a failure there is answered 451 at end of message."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    begin(ctx, "x@bad.example", "taro@example.jp")
    assert ctx._priv.eoh() == Milter.CONTINUE
    assert ctx._priv.body(b"x" * 4096) == Milter.NOREPLY  # over spool_memory_bytes: to disk
    assert ctx._eom() == Milter.TEMPFAIL
    assert ctx._reply == ("451", "4.3.0", "Temporary mail filter problem, try again later")
    assert ctx._delrcpt == []


def test_only_a_mail_taken_is_in_the_delivery_log(
    ctx: MilterContext, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """受信ログ says what became of mail that was taken: a mail refused at its end (here
    over the size limit, 552) was never delivered, whatever end of headers thought."""
    logged: list[Mailed] = []
    small = replace(content_limits(Settings()), message_bytes=100)
    refusing = context_for(
        store, tmp_path / "mail", monkeypatch, record_deliveries=logged.append, content_limits=small
    )
    begin(refusing, "x@bad.example", "taro@example.jp", "hanako@example.jp")
    assert refusing._priv.eoh() == Milter.CONTINUE
    refusing._priv.body(b"x" * 200 + b"\r\n")
    assert refusing._eom() == Milter.REJECT
    assert refusing._reply[:2] == ("552", "5.3.4")
    assert logged == []
    taking = context_for(store, tmp_path / "mail", monkeypatch, record_deliveries=logged.append)
    begin(taking, "x@bad.example", "taro@example.jp", "hanako@example.jp")
    taking._priv.eoh()
    taking._priv.body(b"body\r\n")
    assert taking._eom() == Milter.ACCEPT
    (mailed,) = logged
    assert sorted(row["outcome"] for row in rows_of(mailed)) == ["inbox", "quarantine"]
