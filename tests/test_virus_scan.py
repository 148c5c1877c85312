"""The clamd client and the disinfected original against the real clamd (Debian's
clamav-daemon) with the test signatures: EICAR, a "virus" inside a zip, and every way
of getting no answer raising instead of passing the mail as clean."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path

import pytest

from sekisho.devstack.clamd import EICAR, ZIPPED_MARKER, ClamdInstance
from sekisho.mails.virus_report import removed_part_text
from sekisho.milter.disinfect import without_infected_parts
from sekisho.scanners.virus import Clamd, VirusScanError, clamd_scanner, safe_virus_name
from tests.conftest import CLAMD_UNUSED

EICAR_NAME = "Sekisho.Test.EICAR.UNOFFICIAL"
ZIPPED_NAME = "Sekisho.Test.Zipped.UNOFFICIAL"


def zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def infected_mail() -> bytes:
    message = EmailMessage()
    message["From"] = "shop@bad.example"
    message["To"] = "taro@example.jp"
    message["Subject"] = "請求書をお送りします"
    message.set_content("請求書を添付します。\n")
    message.add_attachment(
        zipped("invoice.txt", b"totals " + ZIPPED_MARKER),
        maintype="application",
        subtype="zip",
        filename="invoice.zip",
    )
    message.add_attachment(
        EICAR, maintype="application", subtype="octet-stream", filename="eicar.com"
    )
    return message.as_bytes()


@pytest.fixture(scope="module")
def scanner(clamd: ClamdInstance) -> Clamd:
    return clamd_scanner(clamd.url, timeout=10)


def test_eicar_a_zipped_virus_and_a_clean_mail(scanner: Clamd) -> None:
    assert scanner.scan(b"Subject: hello\r\n\r\nlunch at noon?\r\n") is None
    assert scanner.scan(b"Subject: x\r\n\r\n" + EICAR + b"\r\n") == EICAR_NAME
    assert scanner.scan(zipped("a.txt", ZIPPED_MARKER)) == ZIPPED_NAME
    assert scanner.scan(infected_mail()) in {EICAR_NAME, ZIPPED_NAME}


def test_clamd_answers_ping(scanner: Clamd) -> None:
    scanner.ping()  # raises VirusScanError otherwise (sekisho check)


def test_nothing_listening_is_an_error_not_clean() -> None:
    with pytest.raises(VirusScanError, match=r"127\.0\.0\.1:9"):
        clamd_scanner(CLAMD_UNUSED, timeout=2).scan(b"Subject: x\r\n\r\nbody\r\n")


@pytest.fixture(scope="module")
def small_clamd(run_root: Path) -> Iterator[ClamdInstance]:
    daemon = ClamdInstance(run_root / "clamd-small", stream_max_length="1M")
    daemon.start()
    yield daemon
    daemon.stop()


def test_a_message_over_the_stream_limit_is_an_error_not_clean(
    small_clamd: ClamdInstance,
) -> None:
    big = b"Subject: big\r\n\r\n" + b"x" * (2 * 1024 * 1024)
    with pytest.raises(VirusScanError, match="StreamMaxLength"):
        clamd_scanner(small_clamd.url, timeout=10).scan(big)


@pytest.mark.parametrize("url", ["clamd://127.0.0.1:3310", "tcp://127.0.0.1", "unix:"])
def test_a_bad_clamd_setting_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="clamd"):
        clamd_scanner(url, timeout=1)


def test_a_virus_name_cannot_carry_a_line_break_into_a_reply() -> None:
    assert safe_virus_name("Evil\r\n250 OK\x00") == "Evil250OK"
    assert safe_virus_name("\r\n") == "unknown"


def test_the_reported_original_keeps_clean_parts_and_loses_infected_ones(
    scanner: Clamd,
) -> None:
    cleaned = without_infected_parts(infected_mail(), scanner.scan, removed_part_text)
    assert scanner.scan(cleaned) is None
    assert EICAR not in cleaned
    message = message_from_bytes(cleaned)
    parts = [part for part in message.walk() if not part.is_multipart()]
    texts = [part.get_payload(decode=True).decode() for part in parts]
    assert texts[0] == "請求書を添付します。\n"
    assert "この部分（invoice.zip）からウィルス（Sekisho.Test.Zipped.UNOFFICIAL）" in texts[1]
    assert "This part (eicar.com) contained a virus (Sekisho.Test.EICAR.UNOFFICIAL)" in texts[2]
    assert message["Subject"] == infected_mail_subject()


def infected_mail_subject() -> str:
    return str(message_from_bytes(infected_mail())["Subject"])


def test_a_virus_pasted_into_the_text_leaves_only_the_header_fields(scanner: Clamd) -> None:
    raw = b"From: a@bad.example\r\nSubject: look\r\n\r\nsee: " + EICAR + b"\r\n"
    cleaned = without_infected_parts(raw, scanner.scan, removed_part_text)
    assert EICAR not in cleaned
    message = message_from_bytes(cleaned)
    assert message["Subject"] == "look"
    assert "ウィルス（Sekisho.Test.EICAR.UNOFFICIAL）" in message.get_payload(decode=True).decode()
    assert scanner.scan(cleaned) is None
