"""Faults caused, not reasoned about: the milter SIGKILLed twice, and the spam folder's
file system full (ENOSPC) and freed again, while senders that retry every 4xx like a
sending MTA keep sending. Every message must end up exactly once per recipient, where
that recipient's rules put it; each test records its sent / lost / duplicated /
misrouted counts for the run's summary (tests/reporting.py)."""

from __future__ import annotations

import contextlib
import functools
import os
import smtplib
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import compat32
from email.utils import formatdate, make_msgid
from pathlib import Path

from sekisho.devstack.postfix import VMAIL_UID
from sekisho.devstack.processes import milter_process
from sekisho.rules.lists import REJECT_FROM
from sekisho.rules.spam import SUBJECT_TAG
from sekisho.store import accounts
from sekisho.store.lists import add_values
from sekisho.store.models import QuarantinedMessage
from tests.e2e.conftest import MailHarness
from tests.reporting import Record, record_fault_counts

SENDERS = 4
MESSAGES_PER_SENDER = 25  # at least: senders go on until the faults are over
TARO_JUNK = "example.jp/taro/.Junk/new"
HANAKO_INBOX = "example.jp/hanako/new"
SENDER = "offers@bad.example"
RECIPIENTS = ["taro@example.jp", "hanako@example.jp"]
DISK_FULL_SECONDS = 2.0


def send_like_an_mta(
    mail: MailHarness, subject: str, deadline: float, body: str = "A limited offer.\n"
) -> int:
    """Send the same message until the server takes it, as a sending MTA retries its
    queue file: a 4xx or a dropped connection is tried again, and a 4xx to some of the
    recipients only is tried again for those. Returns the attempts."""
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = ", ".join(RECIPIENTS)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain="bad.example")
    message.set_content(body)
    data = message.as_bytes()
    pending = list(RECIPIENTS)
    attempts = 0
    while True:
        attempts += 1
        try:
            with smtplib.SMTP("127.0.0.1", mail.stack.smtp_port, timeout=30) as client:
                refused = client.sendmail(SENDER, pending, data)
        except (smtplib.SMTPServerDisconnected, ConnectionError, smtplib.SMTPRecipientsRefused):
            pass
        except smtplib.SMTPResponseException as error:
            if not 400 <= error.smtp_code < 500:
                raise AssertionError(f"{subject}: refused for good: {error}") from error
        else:
            for recipient, (code, reply) in refused.items():
                assert 400 <= code < 500, f"{subject}: {recipient} refused for good: {reply!r}"
            if not refused:
                return attempts
            pending = list(refused)
        assert time.monotonic() < deadline, f"{subject}: not accepted in time"
        time.sleep(0.2)


def kill_and_restart_milter(mail: MailHarness) -> None:
    stack = mail.stack
    assert stack.milter is not None
    assert stack.milter.process is not None
    stack.milter.process.kill()  # SIGKILL: no cleanup, whatever it was doing
    stack.milter.stop(grace=0)
    time.sleep(0.5)
    stack.milter = milter_process(
        stack.environment(), stack.milter_listen, stack.run / "milter.log"
    )


def subjects_in(folder: list[Path]) -> Counter[str]:
    """The subjects, a ``[spam]`` tag taken off (the tests that tag check where it is)."""
    return Counter(
        str(message_from_bytes(path.read_bytes(), policy=compat32)["Subject"]).removeprefix(
            SUBJECT_TAG
        )
        for path in folder
    )


def send_under_load(
    mail: MailHarness,
    name: str,
    disturbances: Iterable[Callable[[], None]],
    body: Callable[[str], str] = lambda _subject: "A limited offer.\n",
) -> tuple[list[str], Counter[str]]:
    """SENDERS senders that retry like an MTA keep sending new messages (subjects
    ``<name> <sender>-<n>``, each with ``body(subject)``) until every disturbance has run,
    half a second apart, and a second more, so the load always outlasts them, however fast
    the machine. Returns the subjects accepted and the attempts each took."""
    deadline = time.monotonic() + 240
    done = threading.Event()
    accepted: list[str] = []
    attempts: Counter[str] = Counter()
    failures: list[BaseException] = []

    def sender(index: int) -> None:
        count = 0
        try:
            while not done.is_set() or count < MESSAGES_PER_SENDER:
                subject = f"{name} {index}-{count}"
                attempts[subject] = send_like_an_mta(mail, subject, deadline, body(subject))
                accepted.append(subject)
                count += 1
        except (AssertionError, OSError, smtplib.SMTPException) as error:  # the main thread reports
            failures.append(error)

    threads = [threading.Thread(target=sender, args=(index,)) for index in range(SENDERS)]
    for thread in threads:
        thread.start()
    for disturb in disturbances:
        time.sleep(0.5)
        disturb()
    time.sleep(1.0)
    done.set()
    for thread in threads:
        thread.join()
    assert failures == []
    mail.wait_until_delivered()
    return accepted, attempts


def count_once_each(
    mail: MailHarness,
    subjects: list[str],
    attempts: Counter[str],
    folders: tuple[str, ...],
    record: Record,
    fault_defers: bool = True,
) -> None:
    """Every subject exactly once in each of ``folders`` and nowhere else; prints the
    counts and records them for the run's summary (tests/reporting.py) with ``record``,
    the test's record_property. ``fault_defers``: the fault must have made some message
    retried (else the test proved nothing); otherwise none may have been."""
    found = mail.files()
    expected = Counter(subjects)
    landed = [subjects_in(found.get(folder, [])) for folder in folders]
    # A half-written file in tmp/ of a killed milter is no mail: readers never show tmp/
    # and Dovecot clears it after 36 hours.
    misrouted = sum(
        len(paths)
        for folder, paths in found.items()
        if folder not in folders and not folder.endswith("/tmp")
    )
    lost = sum(sum((expected - each).values()) for each in landed)
    duplicated = sum(sum((each - expected).values()) for each in landed)
    retried = sum(1 for n in attempts.values() if n > 1)
    print("\n" + record_fault_counts(record, len(subjects), lost, duplicated, misrouted, retried))
    if fault_defers:
        assert retried > 0, "the fault hit no message: the test proved nothing"
    else:
        assert retried == 0, "a fault the mail path does not depend on deferred mail"
    assert (lost, duplicated, misrouted) == (0, 0, 0)


def test_milter_killed_twice_under_load_loses_and_doubles_nothing(
    mail: MailHarness, record_property: Record
) -> None:
    mail.add_account("taro@example.jp")
    mail.add_account("hanako@example.jp")
    with mail.store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp")
        add_values(session, taro.id, REJECT_FROM, ["bad.example"])
    kill = functools.partial(kill_and_restart_milter, mail)
    subjects, attempts = send_under_load(mail, "offer", [kill, kill])
    count_once_each(mail, subjects, attempts, (TARO_JUNK, HANAKO_INBOX), record_property)
    with mail.store.read() as session:
        assert session.query(QuarantinedMessage).count() == len(subjects)


def test_the_spam_folder_disk_full_under_load_defers_and_each_retry_lands_once(
    mail: MailHarness, record_property: Record
) -> None:
    """taro's .Junk on a small file system of its own (a 4 MB tmpfs) filled up mid-load
    and freed 2 s after the milter first hit ENOSPC: writing a quarantine copy fails, the
    sender is told 4xx for taro and keeps the mail; once there is room the retry is
    quarantined, once. hanako's copies are delivered on the first try all along."""
    mail.add_account("taro@example.jp")
    mail.add_account("hanako@example.jp")
    with mail.store.transaction() as session:
        taro = accounts.require_account(session, "taro@example.jp")
        add_values(session, taro.id, REJECT_FROM, ["bad.example"])
    junk = mail.mail_root / TARO_JUNK.removesuffix("/new")
    junk.mkdir(parents=True, exist_ok=True)
    for folder in (junk.parent.parent, junk.parent, junk):  # as Postfix's virtual(8) would
        os.chown(folder, VMAIL_UID, VMAIL_UID)
    options = f"size=4m,mode=0700,uid={VMAIL_UID},gid={VMAIL_UID}"
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(junk)],
        capture_output=True,
        text=True,
    )
    # Not a skip: a run that cannot cause the fault must not pass as if it had (CI is root).
    assert mounted.returncode == 0, (
        f"cannot mount the small tmpfs this test fills ({mounted.stderr.strip()}): "
        "run the e2e tests as root, as CI does"
    )
    try:
        milter_log = mail.stack.run / "milter.log"
        logged = len(milter_log.read_text())
        filler = junk / "filler"

        def disk_full_for_a_while() -> None:
            with contextlib.suppress(OSError), filler.open("wb", buffering=0) as handle:
                while True:
                    handle.write(b"x" * 65536)
            deadline = time.monotonic() + 30
            while "No space left" not in milter_log.read_text()[logged:]:
                assert time.monotonic() < deadline, "the full disk was never hit"
                time.sleep(0.1)
            time.sleep(DISK_FULL_SECONDS)
            filler.unlink()

        subjects, attempts = send_under_load(mail, "disk full", [disk_full_for_a_while])
        count_once_each(mail, subjects, attempts, (TARO_JUNK, HANAKO_INBOX), record_property)
        with mail.store.read() as session:
            assert session.query(QuarantinedMessage).count() == len(subjects)
    finally:
        subprocess.run(["umount", "-l", str(junk)], check=False)
