"""The spam engine clients against the real daemons from Debian's packages (rspamd and
SpamAssassin's spamd, shipped rules, no network): GTUBE is spam, a plain mail is not, and
every way of getting no verdict raises instead of passing the mail as clean."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sekisho.devstack.spam import RspamdInstance, SpamdInstance
from sekisho.envelope import Envelope, postfix_received_field
from sekisho.scanners.background import in_background
from sekisho.scanners.spam import SpamEngine, SpamScanError, spam_engine

GTUBE = (
    b"From: shop@ads.example\r\nTo: taro@example.jp\r\nSubject: offer\r\n"
    b"Message-ID: <gtube@ads.example>\r\n\r\n"
    b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"
)
PLAIN = (
    b"From: hanako@example.jp\r\nTo: taro@example.jp\r\nSubject: lunch\r\n"
    b"Date: Fri, 27 Nov 2026 10:00:00 +0900\r\nMessage-ID: <lunch@example.jp>\r\n\r\n"
    b"Shall we have lunch tomorrow at noon?\r\n"
)


@pytest.fixture(scope="module", params=["rspamd", "spamd"])
def engine(request: pytest.FixtureRequest, run_root: Path) -> Iterator[SpamEngine]:
    daemon = (RspamdInstance if request.param == "rspamd" else SpamdInstance)(
        run_root / f"engine-{request.param}"
    )
    daemon.start()
    yield spam_engine(daemon.url, timeout=20)
    daemon.stop()


def test_gtube_is_spam(engine: SpamEngine) -> None:
    verdict = engine.scan(GTUBE)
    assert verdict.is_spam
    assert verdict.score >= verdict.threshold
    assert verdict.engine == engine.name


def test_a_plain_mail_is_not_spam(engine: SpamEngine) -> None:
    verdict = engine.scan(PLAIN)
    assert not verdict.is_spam
    assert verdict.score < verdict.threshold


def client(name: str, helo: str, **fields: str) -> Envelope:
    return Envelope(
        sender="<hanako@example.jp>",
        recipients=("<taro@example.jp>",),
        client_address="203.0.113.5",
        client_name=name,
        helo=helo,
        queue_id="4ABC123",
        server_name="mx.example.jp",
        **fields,
    )


def test_the_engine_weighs_the_client_a_client_without_a_name_scores_higher(
    engine: SpamEngine,
) -> None:
    named = engine.scan(PLAIN, client("mail.example.jp", "mail.example.jp"))
    nameless = engine.scan(PLAIN, client("unknown", "[203.0.113.5]"))
    assert nameless.score > named.score


def test_a_utf8_address_or_a_line_break_in_the_envelope_still_gets_a_verdict(
    engine: SpamEngine,
) -> None:
    """The envelope never costs the verdict (a request the engine cannot read would)."""
    for envelope in (
        Envelope(sender="<花子@例え.jp>", recipients=("<太郎@例え.jp>",)),
        client("unknown", "evil\r\nX-Injected: yes", login="太郎@例え.jp"),
    ):
        verdict = engine.scan(PLAIN, envelope)
        assert verdict.engine == engine.name
        assert verdict.threshold > 0


def test_the_received_field_is_written_as_postfix_writes_it() -> None:
    date = "Fri, 27 Nov 2026 10:00:05 +0900"
    assert postfix_received_field(client("unknown", "[203.0.113.5]"), date) == (
        b"Received: from [203.0.113.5] (unknown [203.0.113.5])\n"
        b"\tby mx.example.jp (Postfix) with ESMTP id 4ABC123; Fri, 27 Nov 2026 10:00:05 +0900\n"
    )
    submission = Envelope(client_address="2001:db8::5", helo="pc", login="taro@example.jp")
    assert postfix_received_field(submission, date) == (
        b"Received: from pc (unknown [IPv6:2001:db8::5])\n"
        b"\t(Authenticated sender: taro@example.jp)\n"
        b"\tby localhost (Postfix) with ESMTPA; Fri, 27 Nov 2026 10:00:05 +0900\n"
    )
    assert postfix_received_field(Envelope(), date) == b""  # a local socket: no client
    assert postfix_received_field(client("unknown", "a\r\nX-Injected: yes"), date) == b""


def test_the_health_check_is_answered(engine: SpamEngine) -> None:
    engine.ping()  # raises SpamScanError otherwise (sekisho check)


@pytest.mark.parametrize("scheme", ["rspamd", "spamd"])
def test_nothing_listening_is_an_error_not_clean(scheme: str) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SpamScanError):
        spam_engine(f"{scheme}://127.0.0.1:{port}", timeout=2).scan(PLAIN)


@pytest.mark.parametrize("scheme", ["rspamd", "spamd"])
def test_an_engine_that_never_answers_times_out_as_an_error(scheme: str) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(SpamScanError):
            spam_engine(f"{scheme}://127.0.0.1:{port}", timeout=0.5).scan(PLAIN)


@pytest.mark.parametrize("scheme", ["rspamd", "spamd"])
def test_an_engine_that_trickles_its_answer_is_cut_off_at_the_timeout(scheme: str) -> None:
    """Each byte comes within the socket timeout; the scan as a whole must not wait."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def trickle() -> None:
        peer, _ = listener.accept()
        with peer:
            while not stop.wait(0.1):
                peer.sendall(b"x")

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    with ThreadPoolExecutor(max_workers=1) as threads:
        engine = spam_engine(f"{scheme}://127.0.0.1:{port}", timeout=1)
        start = in_background(threads, 1.5, engine.scan, SpamScanError)
        started = time.monotonic()
        wait = start(PLAIN)
        with pytest.raises(SpamScanError, match=r"no verdict within 1\.5 s"):
            wait()
        assert time.monotonic() - started < 3
        stop.set()
    listener.close()


@pytest.mark.parametrize("url", ["rspamd://127.0.0.1", "clamd://127.0.0.1:3310", "spamd:"])
def test_a_bad_engine_setting_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="spam_engine"):
        spam_engine(url, timeout=1)
