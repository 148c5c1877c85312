"""Hostile input through one MailTransaction, against the real clamd and a real store.

Deep and wide MIME, 10,000 header fields, NUL bytes, broken encoded-words, a 50 MB mail
and fuzzed MIME (hypothesis): never an exception, never a 4xx while every dependency is
up, never infected content in a report; clamd requests per message are printed
(``pytest -s``), and each case's peak memory (tracemalloc, the Python allocations of the
transaction) is recorded for the run's summary (tests/reporting.py).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import time
import tracemalloc
from collections.abc import Callable, Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sekisho.devstack.clamd import EICAR, ClamdInstance
from sekisho.maildir import Ownership
from sekisho.milter.actions import (
    Accept,
    AddHeader,
    Continue,
    DeleteRecipient,
    Discard,
    EndOfMessage,
    Reject,
    TempFail,
)
from sekisho.milter.collected import ContentLimits
from sekisho.milter.quarantine import Quarantine
from sekisho.milter.scan import VIRUS_SCAN_DOWN
from sekisho.milter.tagged_copy import TaggedCopies
from sekisho.milter.transaction import MESSAGE_TOO_BIG, MailTransaction
from sekisho.milter.virus_report import VirusReports
from sekisho.scanners.message import MessageSource
from sekisho.scanners.mime_shape import MimeCaps
from sekisho.scanners.spam import spam_engine
from sekisho.scanners.virus import clamd_scanner
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.migrate import upgrade
from sekisho.store.outbox import content_of
from sekisho.store.policies import PolicyCache
from sekisho.store.settings_doc import import_settings
from tests.conftest import CLAMD_UNUSED
from tests.reporting import Record, record_peak_memory
from tests.scanning import SPAM_UNUSED, at_once
from tests.test_transaction_virus import reports

EICAR_NAME = "Sekisho.Test.EICAR.UNOFFICIAL"
SCANNED = "<taro@example.jp>"  # virus scan on
UNSCANNED = "<hanako@example.jp>"  # virus scan off
MB = 1024 * 1024
Headers = list[tuple[str, str]]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the store is not what this suite is about (it runs in `make test`)."""
    url = f"sqlite:///{tmp_path / 'sekisho.db'}"
    upgrade(url)
    return url


class Requests:
    """clamd's scan, counting the requests it makes."""

    def __init__(self, url: str) -> None:
        self._scanner = clamd_scanner(url, timeout=30)
        self.count = 0

    def scan(self, message: bytes | MessageSource) -> str | None:
        self.count += 1
        return self._scanner.scan(message)


Factory = Callable[..., tuple[MailTransaction, Requests]]


@pytest.fixture
def transaction(store: Store, example_domain: str, tmp_path: Path, clamd: ClamdInstance) -> Factory:
    with store.transaction() as session:
        for address, scan in (("taro@example.jp", True), ("hanako@example.jp", False)):
            accounts.add_account(session, address, "secret123")
            import_settings(session, address, {"virus_scan": scan})
    cache = PolicyCache(store, 0.0)

    def build(
        clamd_url: str = clamd.url, limits: ContentLimits | None = None
    ) -> tuple[MailTransaction, Requests]:
        requests = Requests(clamd_url)
        built = MailTransaction(
            cache.get,
            Quarantine(store, tmp_path / "mail", Ownership()),
            spool_memory_bytes=64 * 1024,
            record_hit=lambda _account, _hit: None,
            scan_spam=at_once(spam_engine(SPAM_UNUSED, timeout=5).scan),
            scan_virus=at_once(requests.scan),
            virus_reports=VirusReports(store),
            tagged_copies=TaggedCopies(store, tmp_path / "mail", Ownership()),
        )
        if limits is not None:
            built.content_limits = limits
        return built, requests

    return build


def deliver(
    transaction: MailTransaction,
    headers: Headers,
    body: bytes,
    recipients: tuple[str, ...] = (SCANNED, UNSCANNED),
) -> object:
    transaction.sender = "<shop@bad.example>"
    for recipient in recipients:
        assert transaction.add_recipient(recipient) == Continue()
    for name, value in headers:
        transaction.add_header(name, value)
    headers_end = transaction.end_of_headers()
    if headers_end != Continue():
        return headers_end
    view = memoryview(body)
    for start in range(0, len(body), 64 * 1024):
        transaction.add_body(bytes(view[start : start + 64 * 1024]))
    try:
        return transaction.end_of_message()
    finally:
        transaction.close()


def mime_headers(subject: str, boundary: str = "") -> Headers:
    headers = [("From", "shop@bad.example"), ("To", "taro@example.jp"), ("Subject", subject)]
    headers.append(("Message-ID", f"<{abs(hash(subject))}@bad.example>"))
    if boundary:
        headers += [
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
        ]
    return headers


def attachment(data: bytes, name: str = "file.bin") -> bytes:
    return (
        b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
        + f'Content-Disposition: attachment; filename="{name}"\r\n\r\n'.encode()
        + base64.encodebytes(data).replace(b"\n", b"\r\n")
    )


def nested(depth: int, leaf: bytes) -> bytes:
    """The body of a message whose top multipart (boundary b0) holds ``depth - 1`` more."""
    body = leaf
    for level in range(depth - 1, -1, -1):
        boundary = f"b{level}".encode()
        if level:
            head = b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
        else:
            head = b""
        body = head + b"--" + boundary + b"\r\n" + body + b"\r\n--" + boundary + b"--\r\n"
    return body


def wide(parts: int, infected: bool) -> bytes:
    texts = [b"--w\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % n for n in range(parts)]
    if infected:
        texts.append(b"--w\r\n" + attachment(EICAR, "eicar.com"))
    return b"".join(texts) + b"--w--\r\n"


def only_report(store: Store) -> tuple[str, bytes]:
    (report,) = reports(store)
    assert report.envelope_to == "taro@example.jp"
    return json.loads(report.details or "")["virus"], content_of(store, report.id)


def test_1200_multiparts_deep_is_removed_with_a_headers_only_report(
    transaction: Factory, store: Store, record_property: Record
) -> None:
    """It raised RecursionError in disinfection: a 451 on every retry."""
    body = nested(1200, attachment(EICAR, "eicar.com"))
    peaks: list[float] = []
    for _attempt in range(2):  # the retry finds the report already written
        built, requests = transaction()
        end, peak = peak_of(functools.partial(deliver, built, mime_headers("deep", "b0"), body))
        peaks.append(peak)
        assert isinstance(end, EndOfMessage)
        assert end.verdict == Accept()
        assert DeleteRecipient(SCANNED) in end.edits
        assert DeleteRecipient(UNSCANNED) not in end.edits
        # clamd stops at its MaxRecursion and answers clean: the cap decides.
        assert AddHeader("X-Sekisho-Virus", "Sekisho.Limits.Exceeded.MimeDepth") in end.edits
        assert requests.count == 1
    print("\n1,200 deep: " + record_peak_memory(record_property, max(peaks), TRACED))
    virus, content = only_report(store)
    assert virus == "Sekisho.Limits.Exceeded.MimeDepth"
    assert b"Subject: deep" in content
    assert b"multipart" not in content
    assert EICAR not in content


@pytest.mark.parametrize(("depth", "virus"), [(18, EICAR_NAME), (20, "MimeDepth")])
def test_past_the_depth_cap_clamds_own_name_wins_when_it_found_one(
    transaction: Factory, store: Store, depth: int, virus: str
) -> None:
    built, _ = transaction()
    end = deliver(built, mime_headers("deep", "b0"), nested(depth, attachment(EICAR)))
    assert isinstance(end, EndOfMessage)
    assert DeleteRecipient(SCANNED) in end.edits
    name, content = only_report(store)
    assert name.endswith(virus)
    assert EICAR not in content
    assert b"multipart" not in content


def test_2000_parts_cost_one_clamd_request_not_4003(
    transaction: Factory, store: Store, record_property: Record
) -> None:
    built, requests = transaction()
    body = wide(2000, infected=True)
    end, peak = peak_of(lambda: deliver(built, mime_headers("wide", "w"), body))
    assert isinstance(end, EndOfMessage)
    assert DeleteRecipient(SCANNED) in end.edits
    peak_line = record_peak_memory(record_property, peak, TRACED)
    print(f"\n2,001 parts, infected: {requests.count} clamd request(s), {peak_line}")
    assert requests.count == 1  # over disinfect_max_parts: no part is scanned alone
    virus, content = only_report(store)
    assert virus == EICAR_NAME
    assert b"Subject: wide" in content
    assert b"part 1" not in content


def test_within_the_caps_each_part_is_scanned_once_and_the_clean_ones_kept(
    transaction: Factory, store: Store
) -> None:
    built, requests = transaction()
    end = deliver(built, mime_headers("fifty", "w"), wide(50, infected=True))
    assert isinstance(end, EndOfMessage)
    print(f"\n51 parts, infected: {requests.count} clamd requests")
    assert requests.count == 1 + 51 + 1  # the message, each part once, the cleaned copy
    _, content = only_report(store)
    assert b"part 49" in content
    assert EICAR not in content
    notice = message_from_bytes(content).get_payload()[-1].get_payload(decode=True).decode()
    assert "eicar.com" in notice  # named in the notice that replaced it


def test_more_parts_than_clamd_looks_at_is_not_clean(transaction: Factory, store: Store) -> None:
    limits = ContentLimits(25 * MB, MimeCaps(16, 100), 100, 10 * MB)
    built, _ = transaction(limits=limits)
    end = deliver(built, mime_headers("many", "w"), wide(101, infected=False))
    assert isinstance(end, EndOfMessage)
    assert DeleteRecipient(SCANNED) in end.edits
    assert AddHeader("X-Sekisho-Virus", "Sekisho.Limits.Exceeded.MimeParts") in end.edits


def test_10000_header_fields(transaction: Factory, store: Store, record_property: Record) -> None:
    headers = mime_headers("many fields") + [(f"X-Field-{n}", "v" * 50) for n in range(10_000)]
    built, _ = transaction()
    started = time.monotonic()
    end = deliver(built, headers, b"hello\r\n")
    print(f"\n10,000 header fields: {time.monotonic() - started:.2f} s")
    assert isinstance(end, EndOfMessage)
    assert end.verdict == Accept()
    assert AddHeader("X-Sekisho-Virus", "clean") in end.edits
    infected, _ = transaction()
    end, peak = peak_of(lambda: deliver(infected, headers, b"see " + EICAR + b"\r\n"))
    print("infected, removed: " + record_peak_memory(record_property, peak, TRACED))
    assert isinstance(end, EndOfMessage)
    _, content = only_report(store)
    assert content.count(b"X-Field-") == 10_000
    assert EICAR not in content


def test_nul_bytes_in_the_header_fields_and_the_body(
    transaction: Factory, store: Store, record_property: Record
) -> None:
    headers = [*mime_headers("nul\x00subject", "w"), ("X-Nul", "a\x00b")]
    body = b"--w\r\nContent-Type: text/plain\r\n\r\n\x00\x00\x00\r\n--w\r\n"
    body += attachment(b"\x00" * 100 + EICAR) + b"--w--\r\n"
    built, _ = transaction()
    end, peak = peak_of(lambda: deliver(built, headers, body))
    print("\nNUL bytes: " + record_peak_memory(record_property, peak, TRACED))
    assert isinstance(end, EndOfMessage)
    assert DeleteRecipient(SCANNED) in end.edits
    _, content = only_report(store)
    assert EICAR not in content


BROKEN_WORDS = [
    "=?utf-8?B?////?=",
    "=?utf-8?Q?=E3=81?=",
    "=?x-no-such-charset?Q?abc?=",
    "=?iso-2022-jp?B?GyRCJCIbKEI?= =?iso-2022-jp?B?GyRC?=",
    "=?utf-8?B?" + "QUFB" * 5000 + "?=",
    "=?=?=?utf-8?q??=?=",
    "=?shift_jis?B?gqCCoA?=\udc82\udca0",  # raw Shift_JIS, as the milter passes it
]


@pytest.mark.parametrize("subject", BROKEN_WORDS)
def test_broken_encoded_words(
    transaction: Factory, store: Store, subject: str, record_property: Record
) -> None:
    headers = [*mime_headers(subject), ("From", f"{subject} <shop@bad.example>")]
    built, _ = transaction()
    end, peak = peak_of(lambda: deliver(built, headers, b"see " + EICAR + b"\r\n"))
    print("\nbroken encoded-words: " + record_peak_memory(record_property, peak, TRACED))
    assert isinstance(end, EndOfMessage)
    assert DeleteRecipient(SCANNED) in end.edits
    _, content = only_report(store)
    assert EICAR not in content


def fifty_mb() -> bytes:
    line = base64.encodebytes(b"\x5a" * 57).replace(b"\n", b"\r\n")
    return b"--w\r\n" + attachment(b"") + line * (50 * MB // len(line)) + b"--w--\r\n"


TRACED = "traced"


def peak_of(run: Callable[[], object]) -> tuple[object, float]:
    """What ``run`` returns, and the most memory it held at once beyond what was held
    before (MB, Python allocations)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = run()
        return result, (tracemalloc.get_traced_memory()[1] - before) / MB
    finally:
        tracemalloc.stop()


def test_50_mb_is_refused_552_unread(transaction: Factory, record_property: Record) -> None:
    body = fifty_mb()
    built, requests = transaction()
    end, peak = peak_of(lambda: deliver(built, mime_headers("big", "w"), body))
    print("\n50 MB over message_size_limit: " + record_peak_memory(record_property, peak, TRACED))
    assert end == EndOfMessage((), MESSAGE_TOO_BIG)
    assert isinstance(MESSAGE_TOO_BIG, Reject)
    assert (MESSAGE_TOO_BIG.code, MESSAGE_TOO_BIG.xcode) == ("552", "5.3.4")
    assert requests.count == 0
    assert peak < 5


@pytest.fixture(scope="module")
def roomy_clamd(run_root: Path) -> Iterator[ClamdInstance]:
    daemon = ClamdInstance(run_root / "clamd-roomy", stream_max_length="64M")
    daemon.start()
    yield daemon
    daemon.stop()


def test_50_mb_within_a_raised_limit_is_scanned_streaming(
    transaction: Factory, roomy_clamd: ClamdInstance, record_property: Record
) -> None:
    """Joined for the scanners, 50 MB held +99 MB: now chunks of 64 KB go to clamd."""
    body = fifty_mb()
    limits = ContentLimits(64 * MB, MimeCaps(16, 1000), 100, 10 * MB)
    built, requests = transaction(clamd_url=roomy_clamd.url, limits=limits)
    started = time.monotonic()
    end, peak = peak_of(lambda: deliver(built, mime_headers("big", "w"), body))
    seconds = time.monotonic() - started
    print(f"\n50 MB scanned: {record_peak_memory(record_property, peak, TRACED)}, {seconds:.1f} s")
    assert isinstance(end, EndOfMessage)
    assert AddHeader("X-Sekisho-Virus", "clean") in end.edits
    assert requests.count == 1
    assert peak < 10


def test_clamd_down_is_the_only_temporary_failure(transaction: Factory, store: Store) -> None:
    built, _ = transaction(clamd_url=CLAMD_UNUSED)
    end = deliver(built, mime_headers("deep", "b0"), nested(1200, attachment(EICAR)))
    assert end == EndOfMessage((), VIRUS_SCAN_DOWN)
    assert reports(store) == []


# Fuzzed MIME: trees of parts with odd types, encodings, boundaries and payloads.
_TYPES = st.sampled_from(
    [
        "text/plain",
        "text/html; charset=x-bogus",
        "application/octet-stream",
        "application/zip",
        "message/rfc822",
        "message/delivery-status",
        'image/png; name="a\x00b"',
        "",
        "garbage",
        "multipart/mixed",
        'multipart/digest; boundary=""',
    ]
)
_ENCODINGS = st.sampled_from(["", "7bit", "base64", "quoted-printable", "x-uuencode", "bogus"])
_BOUNDARIES = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=12
).map(lambda text: text.replace("\r", "").replace("\n", ""))
_PAYLOADS = st.one_of(
    st.binary(max_size=300),
    st.just(EICAR),
    st.just(base64.encodebytes(EICAR)),
    st.just(b"begin 644 e.com\n" + binascii.b2a_uu(EICAR[:45]) + binascii.b2a_uu(EICAR[45:])),
    st.text(max_size=200).map(lambda text: text.encode("utf-8", "surrogatepass")),
)


def _leaf() -> st.SearchStrategy[bytes]:
    return st.builds(
        lambda kind, encoding, payload: (
            (
                (f"Content-Type: {kind}\r\n" if kind else "")
                + (f"Content-Transfer-Encoding: {encoding}\r\n" if encoding else "")
                + "\r\n"
            ).encode("utf-8", "surrogateescape")
            + payload
        ),
        _TYPES,
        _ENCODINGS,
        _PAYLOADS,
    )


def _multipart(children: st.SearchStrategy[list[bytes]]) -> st.SearchStrategy[bytes]:
    def render(boundary: str, parts: list[bytes], closed: bool, wrapped: bool) -> bytes:
        marker = boundary.encode("utf-8", "surrogateescape")
        body = b"".join(b"--" + marker + b"\r\n" + part + b"\r\n" for part in parts)
        body += (b"--" + marker + b"--\r\n") if closed else b""
        head = f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'.encode()
        if wrapped:  # a message/rfc822 part around it
            head = b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n" + head
        return head + body

    return st.builds(render, _BOUNDARIES, children, st.booleans(), st.booleans())


_TREES = st.recursive(_leaf(), lambda inner: _multipart(st.lists(inner, max_size=4)), max_leaves=12)
_SUBJECTS = st.one_of(st.sampled_from(BROKEN_WORDS), st.text(max_size=40))


@pytest.fixture
def fuzz_peaks(record_property: Record) -> Iterator[list[float]]:
    """Each example's peak; the largest is recorded once hypothesis is done (the fixture
    lives for the whole test, not per example)."""
    peaks: list[float] = []
    yield peaks
    if peaks:
        how = f"{TRACED}, the largest of {len(peaks)} examples"
        print("\nfuzzed MIME: " + record_peak_memory(record_property, max(peaks), how))


@settings(
    max_examples=60,
    deadline=None,
    database=None,  # no .hypothesis folder in the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tree=_TREES, subject=_SUBJECTS)
def test_fuzzed_mime_never_breaks_the_transaction(
    transaction: Factory, store: Store, fuzz_peaks: list[float], tree: bytes, subject: str
) -> None:
    header, _, body = tree.partition(b"\r\n\r\n")
    headers = mime_headers(subject.replace("\r", " ").replace("\n", " "))
    for line in header.decode("utf-8", "surrogateescape").split("\r\n"):
        name, _, value = line.partition(": ")
        if name:
            headers.append((name, value))
    built, requests = transaction()
    end, peak = peak_of(lambda: deliver(built, headers, body))
    fuzz_peaks.append(peak)
    assert isinstance(end, Accept | EndOfMessage)  # Accept: no recipient needs the body
    if isinstance(end, EndOfMessage):
        assert not isinstance(end.verdict, TempFail | Reject)
        assert isinstance(end.verdict, Accept | Discard)
    assert requests.count <= 1 + 100 + 1
    for report in reports(store):
        assert EICAR not in content_of(store, report.id)
