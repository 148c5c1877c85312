"""One SMTP transaction as the milter sees it, free of pymilter, in four steps:

1. collect — the callbacks gather the envelope, the header fields and the body
   (this module; sekisho.milter.collected is what they gathered);
2. scan — the scans any recipient needs, side by side (sekisho.milter.scan);
3. decide — one Decision per recipient, pure (sekisho.rules.decide);
4. apply — every side effect, then the milter's edits (sekisho.milter.apply).

Round trips are the cost of a milter, so the rules are first walked at end of headers,
without scan results: when no recipient can be caught, forwarded or answered and no scan
is needed, the message is accepted there and the body is never sent to us.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import IO

from sekisho.config import Settings
from sekisho.envelope import Envelope
from sekisho.milter.actions import Accept, Continue, EndOfMessage, Reject, TempFail
from sekisho.milter.apply import Effects, foreign_own_headers
from sekisho.milter.auto_reply import AutoReplies
from sekisho.milter.collected import (
    Collected,
    ContentLimits,
    Recipient,
    content_limits,
    header_line,
)
from sekisho.milter.quarantine import Quarantine
from sekisho.milter.scan import Scanners, SpamScanner, VirusScanner
from sekisho.milter.srs import SrsError
from sekisho.milter.tagged_copy import TaggedCopies
from sekisho.milter.virus_report import VirusReports
from sekisho.rules.abroad import is_local_network, submission_allowed
from sekisho.rules.addresses import normalize_address
from sekisho.rules.auto_reply import japan_day
from sekisho.rules.decide import ScanPlan, answers, decide, decide_with_scans, plan_scans
from sekisho.rules.encoded_words import readable
from sekisho.rules.model import Decision, Message, Policy, RuleHit, ScanResults
from sekisho.rules.virus import refuses_submission
from sekisho.scanners.countries import CountryLookup, RegistryCountries
from sekisho.store.delivery_log import Mailed
from sekisho.store.policies import PolicyUnavailableError

log = logging.getLogger("sekisho.milter")

PolicyLookup = Callable[[str], Policy | None]
HitRecorder = Callable[[int, RuleHit], None]
SenderRewrite = Callable[[str], str]  # the envelope sender forwarded copies leave with
STORE_DOWN = TempFail(
    "451", "4.3.0", "Mail filter settings are unavailable, try again later", "store_down"
)
SRS_DOWN = TempFail(
    "451", "4.3.0", "Forwarding temporarily unavailable, try again later", "srs_down"
)
# Plain words on how to lift it, in both languages: a mail program shows this text.
ABROAD_REFUSED = Reject(
    "550",
    "5.7.1",
    "Sending from outside Japan is restricted for this account. To send from abroad, "
    "lift the restriction for one week on the mail account management page: "
    "国外からのメール送信制限設定 (Kokugai kara no mail soushin seigen settei).",
    "abroad",
)
# Mailboxes one message may reach through forwarding to each other: five targets each,
# a chain of a few, and a bound for the pathological.
_MAX_MAILBOXES = 50
# Postfix's own words for its message_size_limit, which this mirrors (content_limits).
MESSAGE_TOO_BIG = Reject("552", "5.3.4", "Message size exceeds fixed limit", "message_too_big")
# Header fields that change between two attempts of the same message.
_NOT_IN_KEY = frozenset({"received", "return-path"})


@dataclass(frozen=True)
class SubmissionRules:
    """Where submissions may come from without lifting the restriction."""

    countries: CountryLookup = field(default_factory=RegistryCountries)
    home_country: str = "JP"
    local_is_domestic: bool = True


@dataclass
class MailTransaction:
    policies: PolicyLookup
    quarantine: Quarantine
    spool_memory_bytes: int
    record_hit: HitRecorder
    scan_spam: SpamScanner
    scan_virus: VirusScanner
    virus_reports: VirusReports
    # Writes the [spam]-tagged copy for some recipients of a message that others get
    # untagged (sekisho.milter.tagged_copy).
    tagged_copies: TaggedCopies
    deliver_when_spam_scan_fails: bool = False
    # Whether an allow list entry applies to a sender whose authentication (DMARC, SPF,
    # DKIM) the spam engine could not check: allow_list_trusts_unchecked.
    trust_unchecked_senders: bool = True
    sender: str = ""
    # The SASL login of a submission ({auth_authen}), "" for mail from outside. Submitted
    # mail is refused when infected and the submitter has the virus scan on.
    submitter: str = ""
    # The SMTP client's address (the milter's connect callback); "" for a local socket.
    client_address: str = ""
    client_name: str = ""  # its verified name, "unknown" without one
    helo: str = ""
    server_name: str = ""  # this MTA's name (the milter macro j)
    submission_rules: SubmissionRules = field(default_factory=SubmissionRules)
    # postsrsd's forward lookup; None: forwarded copies keep the original envelope sender.
    rewrite_sender: SenderRewrite | None = None
    # Where 自動返信設定 replies are queued; None: no auto-replies (tests of other parts).
    auto_replies: AutoReplies | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Signs the forwarding trace, so a sender cannot switch a mailbox's forwarding off.
    trace_key: bytes = b""
    # How much of a message is read: its size, and the MIME caps of scanning and disinfection.
    content_limits: ContentLimits = field(default_factory=lambda: content_limits(Settings()))
    # Takes a message's decisions for 受信ログ; None: not logged (delivery_log_days = 0,
    # tests of other parts).
    record_deliveries: Callable[[Mailed], None] | None = None
    recipients: list[Recipient] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    queue_id: str = "NOQUEUE"
    _body: IO[bytes] | None = None
    _digest: hashlib._Hash | None = None
    _size: int = 0  # of the header fields and the body so far
    _message: Message | None = None  # built at end of headers; its decoded parts are cached
    _submitter_policy: Policy | None = None
    _submitter_looked_up: bool = False
    # Each mailbox with its decision: the client's recipients, then the forward targets
    # that are sekisho's mailboxes; without scan results at end of headers, then final.
    _decided: list[tuple[Recipient, Decision | None]] = field(default_factory=list)
    _plan: ScanPlan = field(default_factory=ScanPlan)
    # What became of the recipients, for the metrics: "deliver", "quarantine:<rule>",
    # "virus", "forward", "auto_reply", "tagged_copy", "spam:yes|no" (counted once the
    # verdict is final).
    tally: Counter[str] = field(default_factory=Counter)

    @property
    def authenticated(self) -> bool:
        return bool(self.submitter)

    def check_submission(self, now: datetime | None = None) -> Continue | Reject | TempFail:
        """At MAIL FROM of a logged-in customer: the 国外からのメール送信制限
        (docs/features.md §10). Mail from outside (no login) is never restricted."""
        if not self.submitter:
            return Continue()
        failed = self._look_up_submitter()
        if failed is not None:
            return failed
        policy = self._submitter_policy
        if policy is None:  # a login that is not one of sekisho's mailboxes
            return Continue()
        rules = self.submission_rules
        local = is_local_network(self.client_address)
        needs_country = self.client_address and not (local and rules.local_is_domestic)
        country = rules.countries.country(self.client_address) if needs_country else None
        if submission_allowed(
            country,
            local,
            policy.abroad_unlocked_until,
            now or datetime.now(UTC),
            rules.home_country,
            rules.local_is_domestic,
        ):
            return Continue()
        log.info(
            "abroad_refused queue_id=%s login=%s client=%s country=%s",
            self.queue_id,
            readable(self.submitter),
            self.client_address,
            country or "unknown",
        )
        return ABROAD_REFUSED

    def _look_up_submitter(self) -> TempFail | None:
        """The submitter's policy, once per transaction (MAIL FROM, else end of headers)."""
        if self._submitter_looked_up:
            return None
        try:
            self._submitter_policy = self.policies(normalize_address(self.submitter))
        except PolicyUnavailableError as error:
            log.warning("policy_unavailable queue_id=%s error=%s", self.queue_id, error)
            return STORE_DOWN
        self._submitter_looked_up = True
        return None

    def add_recipient(self, given: str) -> Continue | TempFail:
        address = normalize_address(given)
        try:
            policy = self.policies(address)
        except PolicyUnavailableError as error:
            log.warning(
                "policy_unavailable queue_id=%s rcpt=%s error=%s", self.queue_id, address, error
            )
            return STORE_DOWN
        self.recipients.append(Recipient(given, policy))
        return Continue()

    def add_header(self, name: str, value: str) -> None:
        self.headers.append((name, value.replace("\r\n", "\n")))

    def end_of_headers(self) -> Accept | Continue | TempFail:
        message = self._message = Message(normalize_address(self.sender), tuple(self.headers))
        if self.submitter:
            failed = self._look_up_submitter()
            if failed is not None:
                return failed
        self._decided = [
            (r, decide(r.policy, message, trace_key=self.trace_key) if r.policy else None)
            for r in self.recipients
        ]
        failed = self._add_local_targets(message)
        if failed is not None:
            return failed
        self._log_decisions()
        today = japan_day(self.clock()) if self.auto_replies is not None else None
        replying = any(
            r.policy is not None
            and d is not None
            and d.delivered
            and answers(r.policy, message, today)
            for r, d in self._decided
        )
        self._plan = plan_scans(
            [(r.policy, d) for r, d in self._decided], self._submitter_policy, replying
        )
        if (
            not self._plan.any
            and not replying
            and not foreign_own_headers(self.headers)
            and not self._needs_forwarding()
            and not any(d is not None and d.quarantined for _, d in self._decided)
        ):
            self.record_outcome()  # accepted here: the verdict is final
            self.tally["deliver"] += sum(1 for _, d in self._decided if d is not None)
            return Accept()
        # Closed by close(), which the adapter calls at end of message, abort and close.
        self._body = tempfile.SpooledTemporaryFile(max_size=self.spool_memory_bytes)  # noqa: SIM115
        self._digest = hashlib.sha256()
        for name, value in self.headers:
            if name.lower() not in _NOT_IN_KEY:
                self._digest.update(header_line(name, value))
        self._size = sum(len(header_line(name, value)) for name, value in self.headers)
        return Continue()

    def _add_local_targets(self, message: Message) -> TempFail | None:
        """A forward target that is one of sekisho's mailboxes is decided like a recipient
        of its own (its rules, scans, quarantine, auto-reply): Postfix would deliver an
        added recipient without asking the milter. Its own forwarding is followed too,
        each mailbox once, so two mailboxes forwarding to each other end at once."""
        present = {normalize_address(r.given) for r in self.recipients}
        index = 0
        while index < len(self._decided) and len(present) < _MAX_MAILBOXES:
            forwarder, decision = self._decided[index]
            index += 1
            if forwarder.policy is None or decision is None or not decision.delivered:
                continue
            for target in decision.forward.targets:
                if target in present:
                    continue
                try:
                    policy = self.policies(target)
                except PolicyUnavailableError as error:
                    log.warning(
                        "policy_unavailable queue_id=%s rcpt=%s error=%s",
                        self.queue_id,
                        target,
                        error,
                    )
                    return STORE_DOWN
                if policy is None:  # an outside address: Postfix relays it, unfiltered
                    continue
                present.add(target)
                added = Recipient(target, policy, forwarded_by=forwarder.policy.address)
                self._decided.append((added, decide(policy, message, trace_key=self.trace_key)))
        return None

    def add_body(self, chunk: bytes) -> None:
        assert self._body is not None
        assert self._digest is not None
        self._size += len(chunk)
        if self._size > self.content_limits.message_bytes:
            return  # refused at end of message: spooled no further
        self._body.write(chunk)
        self._digest.update(chunk)

    def end_of_message(self) -> EndOfMessage:
        if self._size > self.content_limits.message_bytes:
            log.info("message_too_big queue_id=%s bytes=%d", self.queue_id, self._size)
            return EndOfMessage((), MESSAGE_TOO_BIG)
        mail = self._collected()
        try:  # before anything is written: a deferred mail comes again
            forward_sender = self._forward_sender()
        except SrsError as error:
            log.warning("srs_failed queue_id=%s error=%s", self.queue_id, error)
            return EndOfMessage((), SRS_DOWN)
        scanners = Scanners(
            self.scan_spam,
            self.scan_virus,
            self.deliver_when_spam_scan_fails,
            self.trust_unchecked_senders,
        )
        scans = scanners.run(self._plan, mail)
        if isinstance(scans, TempFail):
            return EndOfMessage((), scans)
        if scans.spam is not None:
            self.tally[f"spam:{'yes' if scans.spam.is_spam else 'no'}"] += 1
        if scans.virus is not None and refuses_submission(self._submitter_policy, scans):
            return EndOfMessage((), _infected_submission(scans.virus))
        now = self.clock()
        today = japan_day(now) if self.auto_replies is not None else None
        self._decided = self._final_decisions(mail.message, scans, today)
        effects = Effects(
            self.quarantine,
            self.virus_reports,
            scanners.find_virus,
            self.tagged_copies,
            self.auto_replies,
            self.trace_key,
        )
        return effects.apply(mail, self._decided, scans, forward_sender, now, self.tally)

    def _final_decisions(
        self, message: Message, scans: ScanResults, today: date | None
    ) -> list[tuple[Recipient, Decision | None]]:
        """Every mailbox's decision with the scans (its first one again where they change
        nothing for it); a forward target only while the mailbox that forwards to it still
        delivers and forwards (not, say, caught as spam)."""
        decided: list[tuple[Recipient, Decision | None]] = []
        forwarding: dict[str, tuple[str, ...]] = {}
        for recipient, first in self._decided:
            if recipient.forwarded_by and recipient.given not in forwarding.get(
                recipient.forwarded_by, ()
            ):
                continue
            decision = (
                decide_with_scans(recipient.policy, message, first, scans, today, self.trace_key)
                if recipient.policy is not None and first is not None
                else None
            )
            decided.append((recipient, decision))
            if recipient.policy is not None and decision is not None and decision.delivered:
                forwarding[recipient.policy.address] = decision.forward.targets
        return decided

    def _collected(self) -> Collected:
        assert self._body is not None
        assert self._digest is not None
        assert self._message is not None
        return Collected(
            self._envelope(),
            self._message,
            tuple(r for r, _ in self._decided),
            self._digest.hexdigest(),
            self._body,
            self.content_limits,
        )

    def _forward_sender(self) -> str | None:
        """The SRS envelope sender when this mail may be forwarded and postsrsd rewrites
        its sender (not a bounce's null sender, nor one of the local domains). The copies
        a mailbox keeps carry it too: one message has one envelope sender."""
        sender = self.sender.strip().strip("<>")
        if self.rewrite_sender is None or not sender or not self._needs_forwarding():
            return None
        rewritten = self.rewrite_sender(sender)
        return rewritten if rewritten != sender else None

    def _needs_forwarding(self) -> bool:
        return any(d is not None and d.delivered and d.forward.targets for _, d in self._decided)

    def _envelope(self) -> Envelope:
        return Envelope(
            sender=self.sender,
            recipients=tuple(recipient.given for recipient in self.recipients),
            client_address=self.client_address,
            client_name=self.client_name,
            helo=self.helo,
            queue_id=self.queue_id,
            login=self.submitter,
            server_name=self.server_name,
        )

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def record_outcome(self) -> None:
        """Count the rules that decided and log each mailbox's outcome (受信ログ), once
        the verdict is final: at an accept at end of headers, or after the adapter
        applied the end-of-message edits (a temp-fail, which the sender retries, counts
        nothing). The log's rows are built on its flush thread, not here."""
        message = self._message
        if message is None:
            return
        record = self.record_deliveries
        mailboxes = []
        for recipient, decision in self._decided:
            if recipient.policy is None or decision is None:
                continue
            if decision.hit is not None:
                self.record_hit(recipient.policy.account_id, decision.hit)
            if record is not None:
                mailboxes.append((recipient.policy.account_id, decision))
        if mailboxes and record is not None:
            key = self._digest.hexdigest() if self._digest is not None else ""
            record(Mailed(self.clock(), message, key, self.queue_id, tuple(mailboxes)))

    def _log_decisions(self) -> None:
        """One line per message: each filtered recipient, its action and the rule that hit.

        ``decisions queue_id=Q taro@example.jp=quarantine:reject_from:"bad.example"
        hanako@example.jp=deliver`` (one line, not one per recipient: the log lock is
        the milter's largest Python cost).
        """
        parts = []
        for recipient, decision in self._decided:
            if decision is None:
                continue
            part = f"{normalize_address(recipient.given)}={decision.action.value}"
            if decision.hit is not None:
                part += f":{decision.hit.rule}:{_quoted(decision.hit.entry)}"
            parts.append(part)
        if parts:
            log.info("decisions queue_id=%s %s", self.queue_id, " ".join(parts))


def _infected_submission(virus: str) -> Reject:
    """554 5.7.1 naming the virus (clamd's name, reduced to safe characters)."""
    return Reject(
        "554",
        "5.7.1",
        f"Virus found ({virus}): the message was not sent. "
        "Remove the infected attachment and send again",
        "infected_submission",
    )


def _quoted(text: str) -> str:
    return '"' + readable(text).replace("\\", "\\\\").replace('"', '\\"') + '"'
