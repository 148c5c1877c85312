"""One SMTP transaction as the milter sees it, free of pymilter: collect, decide, act.

Round trips are the cost of a milter, so the decision is taken at end-of-headers: when
no recipient is caught the message is accepted there and the body is never sent to us.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.utils import formatdate
from typing import IO, ParamSpec, TypeVar

from sekisho.envelope import Envelope, postfix_received_field
from sekisho.milter.actions import (
    Accept,
    AddHeader,
    AddRecipient,
    ChangeHeader,
    ChangeSender,
    Continue,
    DeleteRecipient,
    Discard,
    Edit,
    EndOfMessage,
    Reject,
    TempFail,
)
from sekisho.milter.auto_reply import Answered, AutoReplies
from sekisho.milter.disinfect import without_infected_parts
from sekisho.milter.quarantine import Quarantine
from sekisho.milter.srs import SrsError
from sekisho.milter.tagged_copy import TaggedCopyError
from sekisho.milter.virus_report import VirusReports, removed_part_text
from sekisho.rules.abroad import is_local_network, submission_allowed
from sekisho.rules.addresses import normalize_address
from sekisho.rules.autoreply import japan_day, message_ids, refusal
from sekisho.rules.decide import decide
from sekisho.rules.encoded_words import decode_header_text, readable
from sekisho.rules.forwarding import FORWARD_TRACE, forward_plan, forward_trace
from sekisho.rules.model import Decision, Message, Policy, RuleHit
from sekisho.rules.spam import (
    SUBJECT_TAG,
    SpamAction,
    needs_scan,
    spam_action,
    spam_hit,
    tagged,
)
from sekisho.scanners.background import Starter, Waiter
from sekisho.scanners.countries import CountryLookup, RegistryCountries
from sekisho.scanners.spam import SpamScanError, SpamVerdict
from sekisho.scanners.virus import VirusScanError
from sekisho.store.policies import PolicyUnavailableError

log = logging.getLogger("sekisho.milter")
T = TypeVar("T")
P = ParamSpec("P")

PolicyLookup = Callable[[str], Policy | None]
HitRecorder = Callable[[int, RuleHit], None]
SpamScanner = Callable[[bytes, Envelope], Waiter[SpamVerdict]]
VirusScanner = Starter[str | None]  # the virus found, or None
SenderRewrite = Callable[[str], str]  # the envelope sender forwarded copies leave with
TaggedCopySender = Callable[[str, list[str], bytes], None]  # sender, recipients, message
STORE_DOWN = TempFail(
    "451", "4.3.0", "Mail filter settings are unavailable, try again later", "store_down"
)
SPAM_SCAN_DOWN = TempFail(
    "451", "4.7.1", "Spam scan temporarily unavailable, try again later", "spam_scan_down"
)
VIRUS_SCAN_DOWN = TempFail(
    "451", "4.7.1", "Virus scan temporarily unavailable, try again later", "virus_scan_down"
)
SRS_DOWN = TempFail(
    "451", "4.3.0", "Forwarding temporarily unavailable, try again later", "srs_down"
)
TAGGED_COPY_DOWN = TempFail(
    "451", "4.3.0", "Temporary mail filter problem, try again later", "tagged_copy_down"
)
SPAM_SCORE = "X-Sekisho-Spam-Score"
# Plain words on how to lift it, in both languages: a mail program shows this text.
ABROAD_REFUSED = Reject(
    "550",
    "5.7.1",
    "Sending from outside Japan is restricted for this account. To send from abroad, "
    "lift the restriction for one week on the mail account management page: "
    "国外からのメール送信制限設定 (Kokugai kara no mail soushin seigen settei).",
    "abroad",
)
VIRUS_HEADER = "X-Sekisho-Virus"
NOT_SCANNED = "not scanned"
# Header fields that change between two attempts of the same message.
_NOT_IN_KEY = frozenset({"received", "return-path"})
# The milter's own header fields (X-Sekisho-Spam-Score, -Quarantine-Reason, -Virus …).
# Arriving mail that already carries one was forged or relayed: a reader's mail filter
# must be able to trust them, so they are removed before any of ours are added.
OWN_HEADER_PREFIX = "x-sekisho-"
_COPY_CHUNK = 64 * 1024


@dataclass(frozen=True)
class SubmissionRules:
    """Where submissions may come from without lifting the restriction."""

    countries: CountryLookup = field(default_factory=RegistryCountries)
    home_country: str = "JP"
    local_is_domestic: bool = True


@dataclass
class Recipient:
    given: str  # as the client wrote it, which is what delrcpt must name
    policy: Policy | None
    decision: Decision | None = None


@dataclass
class MailTransaction:
    policies: PolicyLookup
    quarantine: Quarantine
    spool_memory_bytes: int
    record_hit: HitRecorder
    scan_spam: SpamScanner
    scan_virus: VirusScanner
    virus_reports: VirusReports
    deliver_when_spam_scan_fails: bool = False
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
    # Queues the [spam]-tagged copy for some recipients of a message that others get
    # untagged (sekisho.milter.tagged_copy); None: such a message is deferred.
    send_tagged_copy: TaggedCopySender | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    recipients: list[Recipient] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    queue_id: str = "NOQUEUE"
    _body: IO[bytes] | None = None
    _digest: hashlib._Hash | None = None
    _message: Message | None = None  # built at end of headers; its decoded parts are cached
    _submitter_policy: Policy | None = None
    _submitter_looked_up: bool = False
    _replying: list[Recipient] = field(default_factory=list)  # set at end of headers
    # What became of the recipients, for the metrics: "deliver", "quarantine:<rule>",
    # "virus", "forward", "auto_reply", "tagged_copy", "spam:yes|no" (counted once the
    # verdict is final).
    tally: Counter[str] = field(default_factory=Counter)

    @property
    def authenticated(self) -> bool:
        return bool(self.submitter)

    def check_submission(self, now: datetime | None = None) -> Continue | Reject | TempFail:
        """At MAIL FROM of a logged-in customer: the 国外からのメール送信制限 (SPEC.md §10).
        Mail from outside (no login) is never restricted."""
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
        for recipient in self.recipients:
            if recipient.policy is not None:
                recipient.decision = decide(recipient.policy, message)
        self._log_decisions()
        self._replying = self._find_replying()
        if (
            not self._foreign_own_headers()
            and not self._needs_virus_scan()
            and not self._needs_forwarding()
            and not self._replying
            and not any(
                (r.decision and r.decision.quarantined) or needs_scan(r.policy, r.decision)
                for r in self.recipients
            )
        ):
            self.record_hits()  # accepted here: the verdict is final
            self.tally["deliver"] += sum(1 for r in self.recipients if r.policy is not None)
            return Accept()
        # Closed by close(), which the adapter calls at end of message, abort and close.
        self._body = tempfile.SpooledTemporaryFile(max_size=self.spool_memory_bytes)  # noqa: SIM115
        self._digest = hashlib.sha256()
        for name, value in self.headers:
            if name.lower() not in _NOT_IN_KEY:
                self._digest.update(_header_line(name, value))
        return Continue()

    def add_body(self, chunk: bytes) -> None:
        assert self._body is not None
        assert self._digest is not None
        self._body.write(chunk)
        self._digest.update(chunk)

    def end_of_message(self) -> EndOfMessage:
        assert self._body is not None
        assert self._digest is not None
        try:  # before anything is written: a deferred mail comes again
            forward_sender = self._forward_sender()
        except SrsError as error:
            log.warning("srs_failed queue_id=%s error=%s", self.queue_id, error)
            return EndOfMessage((), SRS_DOWN)
        virus_needed = self._needs_virus_scan()
        rules_need_spam = any(needs_scan(r.policy, r.decision) for r in self.recipients)
        # An auto-reply to spam is backscatter under the ISP's name: a mailbox that
        # answers gets its mail scanned even with its own spam scan off, and a scan
        # that fails then only costs the reply, never the mail.
        spam_needed = rules_need_spam or bool(self._replying)
        # The whole message in memory only for a scanner (a quarantine copy streams).
        content = b"".join(self._message_bytes()) if virus_needed or spam_needed else b""
        # Both scans start before either is waited for: they run side by side.
        virus_wait = _started(self.scan_virus, content) if virus_needed else None
        spam_wait = _started(self.scan_spam, content, self._envelope()) if spam_needed else None
        try:
            virus = virus_wait() if virus_wait else NOT_SCANNED
        except VirusScanError as error:
            log.warning("virus_scan_failed queue_id=%s error=%s", self.queue_id, error)
            return EndOfMessage((), VIRUS_SCAN_DOWN)
        if virus not in (None, NOT_SCANNED):
            log.info("virus queue_id=%s name=%s", self.queue_id, virus)
            if self._submitter_policy is not None and self._submitter_policy.virus_scan:
                return EndOfMessage((), _infected_submission(str(virus)))
        try:
            verdict = self._spam_verdict(spam_wait)
        except SpamScanError as error:
            log.warning("spam_scan_failed queue_id=%s error=%s", self.queue_id, error)
            if rules_need_spam and not self.deliver_when_spam_scan_fails:
                return EndOfMessage((), SPAM_SCAN_DOWN)
            verdict = None
        message_key = self._digest.hexdigest()
        assert self._message is not None
        subject = self._message.subject
        edits: list[Edit] = []
        kept: list[Recipient] = []
        tagging: list[Recipient] = []
        reported = self._report_virus(virus, subject, message_key, content)
        for recipient in self.recipients:
            if recipient in reported:
                # Virus wins over everything, the allow list included: removed and reported.
                edits.append(DeleteRecipient(recipient.given))
                self.tally["virus"] += 1
                continue
            hit = self._quarantine_hit(recipient, verdict)
            if recipient.policy is not None and hit is not None:
                self.quarantine.put(
                    recipient.policy,
                    hit,
                    normalize_address(self.sender),
                    subject,
                    self.queue_id,
                    message_key,
                    self._message_bytes(),
                )
                edits.append(DeleteRecipient(recipient.given))
                self.tally[f"quarantine:{hit.rule}"] += 1
                continue
            kept.append(recipient)
            if recipient.policy is not None:
                self.tally["deliver"] += 1
            if verdict is not None and recipient.policy and recipient.decision:
                action = spam_action(recipient.policy, recipient.decision, verdict.is_spam)
                if action is SpamAction.TAG:
                    tagging.append(recipient)
        removed = len(self.recipients) - len(kept)
        edits.extend(self._foreign_own_headers())
        added: list[AddHeader] = []
        if virus != NOT_SCANNED and kept:
            added.append(AddHeader(VIRUS_HEADER, "clean" if virus is None else str(virus)))
        if verdict is not None and kept:
            added.append(
                AddHeader(
                    SPAM_SCORE, f"{verdict.score:.1f} / {verdict.threshold:.1f} ({verdict.engine})"
                )
            )
        edits.extend(added)
        if tagging and len(tagging) == len(kept):
            edits.append(self._subject_tag())
        elif tagging:
            try:
                edits.extend(self._send_tagged_copy(tagging, content, added))
            except TaggedCopyError as error:
                log.warning("tagged_copy_failed queue_id=%s error=%s", self.queue_id, error)
                return EndOfMessage((), TAGGED_COPY_DOWN)
        if verdict is not None and not verdict.is_spam and virus in (None, NOT_SCANNED):
            self._queue_auto_replies(kept, message_key)
        forwarded = self._forward(kept, edits)
        self.tally["forward"] += forwarded
        if forwarded and forward_sender is not None:
            edits.append(ChangeSender(forward_sender))
        verdict_reply = Discard() if removed == len(self.recipients) else Accept()
        log.info(
            "end queue_id=%s quarantined=%d delivered=%d forwarded=%d verdict=%s",
            self.queue_id,
            removed,
            len(self.recipients) - removed,
            forwarded,
            type(verdict_reply).__name__.lower(),
        )
        return EndOfMessage(tuple(edits), verdict_reply)

    def _send_tagged_copy(
        self, tagging: list[Recipient], content: bytes, added: list[AddHeader]
    ) -> list[DeleteRecipient]:
        """Queue the tagged copy for the mailboxes of ``tagging`` that keep their mail (one
        forwarding without 残す gets none; its targets get the original like any other
        forwarded copy) and remove them from the message the others get."""
        if self.send_tagged_copy is None:
            raise TaggedCopyError("no re-injection listener is configured")
        trace = self._forward_trace()
        keeping = [
            recipient
            for recipient in tagging
            if recipient.policy is not None
            and forward_plan(
                recipient.policy.address, recipient.policy.forward_to, trace
            ).keep_mailbox
        ]
        addresses = [recipient.given.strip().strip("<>") for recipient in keeping]
        if not all(_is_utf8_text(address) for address in [self.sender, *addresses]):
            # Raw 8-bit in an address cannot be sent on: the tagging mailboxes get the
            # original untagged rather than the message deferred again at every retry.
            log.warning("tagged_copy_skipped queue_id=%s reason=8bit_address", self.queue_id)
            return []
        if keeping:
            self.send_tagged_copy(self.sender, addresses, self._tagged_message(content, added))
            self.tally["tagged_copy"] += len(keeping)
            log.info("tagged_copy queue_id=%s to=%s", self.queue_id, readable(",".join(addresses)))
        return [DeleteRecipient(recipient.given) for recipient in keeping]

    def _tagged_message(self, content: bytes, added: list[AddHeader]) -> bytes:
        """The message as the tagging mailboxes get it: the Received field Postfix wrote
        for the client (a milter never sees it), the subject tagged, sekisho's fields."""
        subject: ChangeHeader | AddHeader | None = self._subject_tag()
        received = postfix_received_field(
            self._envelope(), formatdate(localtime=True), show_login=False
        )
        lines = [received]
        for name, value in self._kept_headers():
            if isinstance(subject, ChangeHeader) and name.lower() == "subject":
                lines.append(_header_line(name, subject.value))
                subject = None
            else:
                lines.append(_header_line(name, value))
        if isinstance(subject, AddHeader):
            lines.append(_header_line(subject.name, subject.value))
        lines.extend(_header_line(field.name, field.value) for field in added)
        body = content[len(self._header_block()) :]
        return b"".join(lines) + b"\n" + body

    def _forward(self, kept: list[Recipient], edits: list[Edit]) -> int:
        """転送設定 of the recipients whose copy is delivered: add each target once, remove
        the mailbox when none of its targets says 残す, and trace the mailbox so the copy
        is never forwarded by it again. Returns how many targets were added."""
        present = {normalize_address(r.given) for r in self.recipients}
        added: list[str] = []
        for recipient in kept:
            policy = recipient.policy
            if policy is None:
                continue
            plan = forward_plan(policy.address, policy.forward_to, self._forward_trace())
            if not plan.targets:
                continue
            for target in plan.targets:
                if target not in present and target not in added:
                    added.append(target)
                    edits.append(AddRecipient(target))
            if not plan.keep_mailbox:
                edits.append(DeleteRecipient(recipient.given))
            edits.append(AddHeader(FORWARD_TRACE, policy.address))
        if added:
            log.info("forward queue_id=%s to=%s", self.queue_id, ",".join(added))
        return len(added)

    def _find_replying(self) -> list[Recipient]:
        """The recipients whose 自動返信設定 answers this mail: on today (Japan's calendar),
        not caught by the rules, and a mail that may be answered."""
        if self.auto_replies is None or self._message is None:
            return []
        today = japan_day(self.clock())
        return [
            recipient
            for recipient in self.recipients
            if recipient.policy is not None
            and recipient.decision is not None
            and not recipient.decision.quarantined
            and recipient.policy.auto_reply.active_on(today)
            and refusal(recipient.policy.address, self.sender, self._message.headers) is None
        ]

    def _queue_auto_replies(self, kept: list[Recipient], message_key: str) -> None:
        """An outbox row per answering mailbox (only for mail scanned and found clean of
        spam and viruses: the caller). A per-sender text is chosen by the envelope
        sender, where the reply goes: a forged From never gets another sender's text."""
        replying = [recipient for recipient in self._replying if recipient in kept]
        if not replying or self.auto_replies is None or self._message is None:
            return
        message = self._message
        replies = [
            (r.policy, r.policy.auto_reply.text_for([self.sender]))
            for r in replying
            if r.policy is not None
        ]
        ids = [message_ids(value) for value in message.header_values("Message-ID")[:1]]
        answered = Answered(
            sender=self.sender.strip().strip("<>"),
            subject=message.subject,
            message_id=ids[0][0] if ids and ids[0] else "",
            references=" ".join(
                found
                for value in message.header_values("References")
                for found in message_ids(value)
            ),
        )
        self.tally["auto_reply"] += self.auto_replies.put(
            replies, answered, message_key, self.clock()
        )
        log.info(
            "auto_reply queue_id=%s to=%s from=%s",
            self.queue_id,
            readable(answered.sender),
            ",".join(r.policy.address for r in replying if r.policy is not None),
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

    def _forward_trace(self) -> frozenset[str]:
        return forward_trace(
            value for name, value in self.headers if name.lower() == FORWARD_TRACE.lower()
        )

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

    def _needs_forwarding(self) -> bool:
        trace = self._forward_trace()
        return any(
            r.policy is not None
            and r.decision is not None
            and not r.decision.quarantined
            and forward_plan(r.policy.address, r.policy.forward_to, trace).targets
            for r in self.recipients
        )

    def _report_virus(
        self, virus: str | None, subject: str, message_key: str, content: bytes
    ) -> list[Recipient]:
        """The recipients an infected mail is removed for (the scan on), each with a
        report row written before they are removed; the original is disinfected once."""
        if virus is None or virus == NOT_SCANNED:
            return []
        chosen = [r for r in self.recipients if r.policy is not None and r.policy.virus_scan]
        if not chosen:
            return []
        cleaned = without_infected_parts(
            content, lambda data: self.scan_virus(data)(), removed_part_text
        )
        self.virus_reports.put(
            [r.policy for r in chosen if r.policy is not None],
            virus,
            readable(normalize_address(self.sender)),
            subject,
            message_key,
            cleaned,
        )
        return chosen

    def _needs_virus_scan(self) -> bool:
        """Some recipient, or the submitter, has the virus scan on."""
        policies = [r.policy for r in self.recipients] + [self._submitter_policy]
        return any(policy is not None and policy.virus_scan for policy in policies)

    def _spam_verdict(self, wait: Waiter[SpamVerdict] | None) -> SpamVerdict | None:
        """One scan for the whole message, only when some recipient's outcome depends on it."""
        if wait is None:
            return None
        started = time.monotonic()
        verdict = wait()
        self.tally[f"spam:{'yes' if verdict.is_spam else 'no'}"] += 1
        log.info(
            "spam queue_id=%s engine=%s score=%.1f threshold=%.1f spam=%s ms=%.0f",
            self.queue_id,
            verdict.engine,
            verdict.score,
            verdict.threshold,
            verdict.is_spam,
            (time.monotonic() - started) * 1000,
        )
        return verdict

    @staticmethod
    def _quarantine_hit(recipient: Recipient, verdict: SpamVerdict | None) -> RuleHit | None:
        decision, policy = recipient.decision, recipient.policy
        if decision is None or policy is None:
            return None
        if decision.quarantined:
            return decision.hit
        if (
            verdict is not None
            and spam_action(policy, decision, verdict.is_spam) is SpamAction.QUARANTINE
        ):
            return spam_hit(verdict.score, verdict.threshold, verdict.engine)
        return None

    def _foreign_own_headers(self) -> list[ChangeHeader]:
        """Removals of arriving X-Sekisho-* fields, last occurrence first, so each index
        still names the same field when Postfix applies it."""
        seen: dict[str, int] = {}
        removals = []
        for name, _ in self.headers:
            key = name.lower()
            seen[key] = seen.get(key, 0) + 1
            if key.startswith(OWN_HEADER_PREFIX) and key != FORWARD_TRACE.lower():
                removals.append(ChangeHeader(name, seen[key], ""))
        return removals[::-1]

    def _subject_tag(self) -> ChangeHeader | AddHeader:
        for name, value in self.headers:
            if name.lower() == "subject":
                unfolded = value.replace("\n", "").replace("\r", "")
                if _is_utf8_text(unfolded):
                    return ChangeHeader(name, 1, tagged(unfolded))
                # Raw 8-bit (Shift_JIS, EUC-JP …) cannot pass through libmilter as text:
                # the tagged subject goes out as an RFC 2047 word.
                return ChangeHeader(
                    name, 1, Header(tagged(decode_header_text(unfolded)), "utf-8").encode()
                )
        return AddHeader("Subject", SUBJECT_TAG.strip())

    def close(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def _kept_headers(self) -> Iterator[tuple[str, str]]:
        """The header fields delivered copies keep: not arriving X-Sekisho-* fields."""
        for name, value in self.headers:
            key = name.lower()
            if not key.startswith(OWN_HEADER_PREFIX) or key == FORWARD_TRACE.lower():
                yield name, value

    def _header_block(self) -> bytes:
        return b"".join(_header_line(name, value) for name, value in self._kept_headers()) + b"\n"

    def _message_bytes(self) -> Iterator[bytes]:
        """The message as a Maildir file wants it: header lines, blank line, LF endings;
        without arriving X-Sekisho-* fields, as the delivered copies are."""
        assert self._body is not None
        yield self._header_block()
        self._body.seek(0)
        carry = b""
        while chunk := self._body.read(_COPY_CHUNK):
            data = carry + chunk
            carry = b"\r" if data.endswith(b"\r") else b""
            yield data[: len(data) - len(carry)].replace(b"\r\n", b"\n")
        if carry:
            yield carry

    def record_hits(self) -> None:
        """Count the rules that decided, once the verdict is final: at an accept at end of
        headers, or after the adapter applied the end-of-message edits (a temp-fail, which
        the sender retries, counts nothing)."""
        for recipient in self.recipients:
            hit = recipient.decision.hit if recipient.decision is not None else None
            if recipient.policy is not None and hit is not None:
                self.record_hit(recipient.policy.account_id, hit)

    def _log_decisions(self) -> None:
        """One line per message: each filtered recipient, its action and the rule that hit.

        ``decisions queue_id=Q taro@example.jp=quarantine:reject_from:"bad.example"
        hanako@example.jp=deliver`` (one line, not one per recipient: the log lock is
        the milter's largest Python cost).
        """
        parts = []
        for recipient in self.recipients:
            decision = recipient.decision
            if decision is None:
                continue
            part = f"{normalize_address(recipient.given)}={decision.action.value}"
            if decision.hit is not None:
                part += f":{decision.hit.rule}:{_quoted(decision.hit.entry)}"
            parts.append(part)
        if parts:
            log.info("decisions queue_id=%s %s", self.queue_id, " ".join(parts))


def _started(start: Callable[P, Waiter[T]], *args: P.args, **kwargs: P.kwargs) -> Waiter[T]:
    """The scan's waiter; a scan that failed to start fails when waited for, like others."""
    try:
        return start(*args, **kwargs)
    except (SpamScanError, VirusScanError) as error:
        failure = error

    def wait() -> T:
        raise failure

    return wait


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


def _header_line(name: str, value: str) -> bytes:
    return f"{name}: {value}\n".encode("utf-8", "surrogateescape")


def _is_utf8_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # surrogate escapes stand for undecodable raw bytes
        return False
    return True
