"""Step 2 of a message, scan: the scans the decisions need, run side by side.

Both scans start before either is waited for. A scan that fails is never taken for
"clean": a failed virus scan defers the message (the sending MTA retries); a failed spam
scan defers it only when some recipient's delivery depends on the verdict and the
operator did not choose to deliver then (``spam_on_failure``). A scan wanted only for an
auto-reply costs, when it fails, only the reply.

Both read the message from the spool as a stream (sekisho.milter.collected). clamd's
"clean" is believed only for a message within the MIME caps (mime_max_depth,
mime_max_parts; sekisho.scanners.mime_shape says why): past them the message counts as
infected with a ``Sekisho.Limits.Exceeded.*`` name, so the mailboxes with the virus scan
on lose it, with a report of its header fields only (sekisho.milter.disinfect).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from sekisho.envelope import Envelope
from sekisho.milter.actions import TempFail
from sekisho.milter.collected import Collected
from sekisho.rules.decide import ScanPlan
from sekisho.rules.model import ScanResults, SpamVerdict
from sekisho.scanners.background import Starter, Waiter
from sekisho.scanners.message import InMemory, MessageSource
from sekisho.scanners.spam import SpamScanError
from sekisho.scanners.virus import VirusScanError

log = logging.getLogger("sekisho.milter")
T = TypeVar("T")
P = ParamSpec("P")

SpamScanner = Callable[[MessageSource, Envelope], Waiter[SpamVerdict]]
VirusScanner = Starter[str | None]  # the virus found, or None
SPAM_SCAN_DOWN = TempFail(
    "451", "4.7.1", "Spam scan temporarily unavailable, try again later", "spam_scan_down"
)
VIRUS_SCAN_DOWN = TempFail(
    "451", "4.7.1", "Virus scan temporarily unavailable, try again later", "virus_scan_down"
)
# The "virus" of a message past a MIME cap, after ClamAV's Heuristics.Limits.Exceeded.*.
LIMITS_EXCEEDED = {
    "depth": "Sekisho.Limits.Exceeded.MimeDepth",
    "parts": "Sekisho.Limits.Exceeded.MimeParts",
}


@dataclass(frozen=True)
class Scanners:
    scan_spam: SpamScanner
    scan_virus: VirusScanner
    deliver_when_spam_scan_fails: bool = False
    # allow_list_trusts_unchecked: the allow list applies to a sender whose authentication
    # the spam engine could not check (sekisho.rules.allow_from).
    trust_unchecked_senders: bool = True

    def run(self, plan: ScanPlan, mail: Collected) -> ScanResults | TempFail:
        envelope = mail.envelope
        virus_wait = _started(self.scan_virus, mail) if plan.virus else None
        spam_wait = _started(self.scan_spam, mail, envelope) if plan.spam else None
        over_caps = mail.shape.over if plan.virus else ""  # read while the scans run
        try:
            virus = virus_wait() if virus_wait else None
        except VirusScanError as error:
            log.warning("virus_scan_failed queue_id=%s error=%s", envelope.queue_id, error)
            return VIRUS_SCAN_DOWN
        if virus is None and over_caps:
            virus = LIMITS_EXCEEDED[over_caps]
        if virus is not None:
            log.info("virus queue_id=%s name=%s", envelope.queue_id, virus)
        try:
            verdict = _spam_verdict(spam_wait, envelope.queue_id)
        except SpamScanError as error:
            log.warning("spam_scan_failed queue_id=%s error=%s", envelope.queue_id, error)
            if plan.spam_decides_delivery and not self.deliver_when_spam_scan_fails:
                return SPAM_SCAN_DOWN
            verdict = None
        return ScanResults(
            virus_scanned=plan.virus,
            virus=virus,
            spam=verdict,
            complete=True,
            trust_unchecked_senders=self.trust_unchecked_senders,
        )

    def find_virus(self, data: bytes) -> str | None:
        """One blocking scan (disinfection scans the parts of an infected mail)."""
        return self.scan_virus(InMemory(data))()


def _spam_verdict(wait: Waiter[SpamVerdict] | None, queue_id: str) -> SpamVerdict | None:
    if wait is None:
        return None
    started = time.monotonic()
    verdict = wait()
    log.info(
        "spam queue_id=%s engine=%s score=%.1f threshold=%.1f spam=%s ms=%.0f",
        queue_id,
        verdict.engine,
        verdict.score,
        verdict.threshold,
        verdict.is_spam,
        (time.monotonic() - started) * 1000,
    )
    return verdict


def _started(start: Callable[P, Waiter[T]], *args: P.args, **kwargs: P.kwargs) -> Waiter[T]:
    """The scan's waiter; a scan that failed to start fails when waited for, like others."""
    try:
        return start(*args, **kwargs)
    except (SpamScanError, VirusScanError) as error:
        failure = error

    def wait() -> T:
        raise failure

    return wait
