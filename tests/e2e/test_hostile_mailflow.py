"""Hostile mail through real Postfix (built from deploy/postfix/main.cf), the milter, the
real clamd and the worker: the size limit answered 552 5.3.4 with or without SIZE, and a
mail nested deeper than clamd looks removed and reported, never deferred. The milter
process's peak resident memory (VmHWM, reset before the mail) is recorded for the run's
summary (tests/reporting.py)."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

from sekisho.devstack.clamd import EICAR, ClamdInstance
from tests.e2e.conftest import MailHarness, start_harness
from tests.e2e.test_mailflow import import_settings
from tests.reporting import Record, record_peak_memory
from tests.test_hostile_mime import attachment, nested

LIMIT = 26_214_400  # deploy/postfix/main.cf message_size_limit, and the milter's default
TARO_INBOX = "example.jp/taro/new"
HANAKO_INBOX = "example.jp/hanako/new"


@pytest.fixture(scope="module")
def hostile_stack(run_root: Path, clamd: ClamdInstance) -> Iterator[MailHarness]:
    yield from start_harness(run_root / "hostile", with_worker=True, clamd=clamd.url)


@pytest.fixture
def mail(hostile_stack: MailHarness) -> MailHarness:
    hostile_stack.reset()
    hostile_stack.add_account("taro@example.jp")
    hostile_stack.add_account("hanako@example.jp")
    import_settings(hostile_stack, "taro@example.jp", {"virus_scan": True})
    return hostile_stack


def milter_pid(mail: MailHarness) -> int:
    assert mail.stack.milter is not None
    assert mail.stack.milter.process is not None
    return mail.stack.milter.process.pid


def memory_mb(pid: int, field: str) -> float:
    """A memory field of /proc/<pid>/status (VmHWM: peak resident, VmRSS: resident), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no {field} for process {pid}")


def reset_peak_memory(pid: int) -> float:
    """VmHWM back to the resident size (proc(5), clear_refs "5"); returns that size."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return memory_mb(pid, "VmRSS")


def record_milter_peak(record: Record, pid: int, resident_before: float) -> str:
    peak = memory_mb(pid, "VmHWM")
    how = f"milter VmHWM, +{peak - resident_before:.1f} MB over its resident size before"
    return record_peak_memory(record, peak, how)


def oversize() -> bytes:
    head = b"From: big@bad.example\r\nTo: taro@example.jp\r\nSubject: big\r\n\r\n"
    return head + (b"x" * 998 + b"\r\n") * (LIMIT // 1000 + 1)


def test_over_the_size_limit_is_refused_552_at_mail_from_or_after_data(
    mail: MailHarness, record_property: Record
) -> None:
    data = oversize()
    pid = milter_pid(mail)
    resident = reset_peak_memory(pid)
    with smtplib.SMTP("127.0.0.1", mail.stack.smtp_port, timeout=60) as client:
        client.ehlo()
        assert client.esmtp_features["size"] == str(LIMIT)
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("big@bad.example", ["taro@example.jp"], data)  # sends SIZE=
        assert refused.value.smtp_code == 552
        assert refused.value.smtp_error.startswith(b"5.3.4")
    with smtplib.SMTP("127.0.0.1", mail.stack.smtp_port, timeout=60) as client:
        client.ehlo()
        assert client.mail("big@bad.example")[0] == 250  # no SIZE: found out during DATA
        assert client.rcpt("taro@example.jp")[0] == 250
        code, text = client.data(data)
        assert (code, text[:5]) == (552, b"5.3.4")
    print("\n25 MB over the limit: " + record_milter_peak(record_property, pid, resident))
    assert TARO_INBOX not in mail.files()


def test_an_infected_mail_1200_multiparts_deep_is_removed_and_reported(
    mail: MailHarness, record_property: Record
) -> None:
    head = (
        b"From: shop@bad.example\r\nTo: taro@example.jp, hanako@example.jp\r\n"
        b"Subject: deep\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    )
    data = head + nested(1200, attachment(EICAR, "eicar.com"))
    pid = milter_pid(mail)
    resident = reset_peak_memory(pid)
    with smtplib.SMTP("127.0.0.1", mail.stack.smtp_port, timeout=60) as client:
        recipients = ["taro@example.jp", "hanako@example.jp"]
        assert client.sendmail("shop@bad.example", recipients, data) == {}
    (report_file,) = mail.wait_for_files(TARO_INBOX)  # the worker's report, nothing else
    (hanako_file,) = mail.wait_for_files(HANAKO_INBOX)
    print("\n1,200 deep: " + record_milter_peak(record_property, pid, resident))
    report = message_from_bytes(report_file.read_bytes(), policy=policy.default)
    assert report["X-Sekisho-Notice"] == "virus"
    assert EICAR not in report_file.read_bytes()
    assert b"b1199" not in report_file.read_bytes()  # the original's header fields only
    # Her choice (no virus scan): delivered, marked. Only its header fields are read here:
    # Python's parser cannot take 1,200 levels either.
    hanako = BytesHeaderParser().parsebytes(hanako_file.read_bytes())
    assert hanako["X-Sekisho-Virus"] == "Sekisho.Limits.Exceeded.MimeDepth"
