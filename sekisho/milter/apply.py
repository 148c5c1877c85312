"""Step 4 of a message, apply: every side effect of the decisions, in one place.

The order is what makes "nothing lost" hold: whatever the store or a Maildir must
keep is written before the recipient it stands for is removed from the message —

1. virus reports (an outbox row per mailbox, with the disinfected original),
2. quarantine copies (the ``.Junk`` file durable, then its row),
3. the ``[spam]``-tagged copy, when only some recipients take the tag (written into
   their inboxes durably, then its ledger row),
4. auto-reply rows,

then the milter's edits: recipients removed and added (forwarding), header fields, the
envelope sender of forwarded mail. Any failure before the edits defers the whole message
and the sender's retry finds every write already done (keyed by the message's digest).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import formatdate
from itertools import islice

from sqlalchemy.orm import Session

from sekisho.envelope import postfix_received_field
from sekisho.mails.virus_report import removed_part_text
from sekisho.milter.actions import (
    Accept,
    AddHeader,
    AddRecipient,
    ChangeHeader,
    ChangeSender,
    DeleteRecipient,
    Discard,
    Edit,
    EndOfMessage,
)
from sekisho.milter.auto_reply import Answered, AutoReplies
from sekisho.milter.collected import Collected, Recipient, header_line, is_own_header
from sekisho.milter.disinfect import FindVirus, disinfected
from sekisho.milter.quarantine import Copy, Quarantine
from sekisho.milter.tagged_copy import TaggedCopies, TaggedCopy
from sekisho.milter.virus_report import VirusReports
from sekisho.rules.addresses import normalize_address
from sekisho.rules.auto_reply import message_ids
from sekisho.rules.encoded_words import decode_header_text, readable
from sekisho.rules.forwarding import FORWARD_TRACE, trace_value
from sekisho.rules.model import Action, Decision, Policy, ScanResults
from sekisho.rules.spam import SUBJECT_TAG, tagged

log = logging.getLogger("sekisho.milter")
SPAM_SCORE = "X-Sekisho-Spam-Score"
VIRUS_HEADER = "X-Sekisho-Virus"
Decided = Sequence[tuple[Recipient, Decision | None]]


@dataclass(frozen=True)
class Effects:
    quarantine: Quarantine
    virus_reports: VirusReports
    find_virus: FindVirus  # disinfection scans the parts of an infected mail
    # Writes the [spam]-tagged copy for some recipients of a message that others get
    # untagged (sekisho.milter.tagged_copy).
    tagged_copies: TaggedCopies
    # Where 自動返信設定 replies are queued; None: no auto-replies (tests of other parts).
    auto_replies: AutoReplies | None = None
    trace_key: bytes = b""  # signs the forwarding trace (sekisho.rules.forwarding)

    def apply(
        self,
        mail: Collected,
        decided: Decided,
        scans: ScanResults,
        forward_sender: str | None,
        now: datetime,
        tally: Counter[str],
    ) -> EndOfMessage:
        """The side effects, then the edits and the verdict; ``tally`` counts the outcomes.

        The quarantine and tagged copies are written first, then one store transaction
        records their rows, the virus reports and the auto-replies: a failure before the
        commit leaves nothing recorded (the retry finds the copies under their names,
        sekisho.maildir.keyed_name), one after it finds everything recorded."""
        report = self._virus_report(mail, decided, scans)
        copies: list[Copy] = []
        edits: list[Edit] = []
        kept = [(r, d) for r, d in decided if d is None or d.delivered]
        replies = self._auto_replies(mail, kept, now)
        added = scan_headers(scans) if kept else []
        tagging = [(r, d) for r, d in kept if d is not None and d.action is Action.TAG]
        in_tagged_copy: list[Recipient] = []
        tagged_copies: list[TaggedCopy] = []
        tag_edits: list[Edit] = []
        try:  # a copy written is taken back when a later one fails: none without its row
            for recipient, decision in decided:
                if decision is None:  # not one of sekisho's mailboxes
                    continue
                if decision.delivered:
                    tally["deliver"] += 1
                    continue
                if decision.action is Action.REMOVE_VIRUS:
                    tally["virus"] += 1
                elif recipient.policy is not None and decision.hit is not None:
                    copy = self.quarantine.write_copy(
                        recipient.policy,
                        decision.hit,
                        mail.message.sender,
                        mail.message.subject,
                        mail.queue_id,
                        mail.key,
                        mail.maildir_form(),
                        mail.envelope,
                    )
                    copies.extend([copy] if copy else [])
                    tally[f"quarantine:{decision.hit.rule}"] += 1
                if not recipient.forwarded_by:  # a forward target of ours is simply not added
                    edits.append(DeleteRecipient(recipient.given))
            if tagging and len(tagging) == len(kept):
                tag_edits.append(subject_tag(mail.message.headers))
            elif tagging:
                in_tagged_copy, tagged_copies = self._write_tagged_copies(mail, tagging, added)
                tag_edits.extend(
                    DeleteRecipient(r.given) for r in in_tagged_copy if not r.forwarded_by
                )
        except BaseException:
            self.quarantine.withdraw(copies)
            raise

        def rows(session: Session) -> int:
            if report is not None:
                self.virus_reports.write(session, *report)
            TaggedCopies.record(session, tagged_copies)
            return (
                self.auto_replies.write(session, *replies) if replies and self.auto_replies else 0
            )

        # Most mail reaching here records nothing (scanned and delivered): no transaction.
        answered = 0
        if copies or report or replies or tagged_copies:
            try:
                answered = self.quarantine.record_with(copies, rows)
            except BaseException:
                if tagged_copies:
                    self.tagged_copies.withdraw(tagged_copies)
                raise
        tally["tagged_copy"] += len(tagged_copies)
        if replies:
            tally["auto_reply"] += answered
            log.info(
                "auto_reply queue_id=%s to=%s from=%s",
                mail.queue_id,
                readable(replies[1].sender),
                ",".join(policy.address for policy, _ in replies[0]),
            )
        edits.extend(foreign_own_headers(mail.message.headers))
        edits.extend(added)
        edits.extend(tag_edits)
        edits.extend(
            AddRecipient(r.given)
            for r, d in kept
            if r.forwarded_by and d is not None and d.forward.keep_mailbox
            if r not in in_tagged_copy
        )
        present = {normalize_address(r.given) for r, _ in decided}
        forwarded = forward_edits(mail, kept, present, edits, self.trace_key)
        tally["forward"] += forwarded
        if forwarded and forward_sender is not None:
            edits.append(ChangeSender(forward_sender))
        removed = [d for _, d in decided if d is not None and not d.delivered]
        keeps_any = any(not r.forwarded_by for r, _ in kept) or any(
            isinstance(edit, AddRecipient) for edit in edits
        )
        verdict = Accept() if keeps_any else Discard()
        log.info(
            "end queue_id=%s quarantined=%d virus_removed=%d delivered=%d forwarded=%d verdict=%s",
            mail.queue_id,
            sum(1 for d in removed if d.quarantined),
            sum(1 for d in removed if d.action is Action.REMOVE_VIRUS),
            len(kept),
            forwarded,
            type(verdict).__name__.lower(),
        )
        return EndOfMessage(tuple(edits), verdict)

    def _virus_report(
        self, mail: Collected, decided: Decided, scans: ScanResults
    ) -> tuple[list[Policy], str, str, str, str, bytes] | None:
        """The report rows' contents for the mailboxes the infected mail is removed for;
        the original is disinfected once for all of them."""
        chosen = [
            r.policy
            for r, d in decided
            if r.policy is not None and d is not None and d.action is Action.REMOVE_VIRUS
        ]
        if not chosen or scans.virus is None:
            return None
        cleaned = disinfected(mail, scans.virus, self.find_virus, removed_part_text)
        sender = readable(mail.message.sender)
        return chosen, scans.virus, sender, mail.message.subject, mail.key, cleaned

    def _write_tagged_copies(
        self, mail: Collected, tagging: Decided, added: list[AddHeader]
    ) -> tuple[list[Recipient], list[TaggedCopy]]:
        """Write the tagged copy for the mailboxes of ``tagging`` that keep their mail (one
        forwarding without 残す gets none; its targets get the original like any other
        forwarded copy): they are the recipients the original must no longer reach. Also
        returns the copies written by this attempt, whose ledger rows are still due."""
        keeping = [r for r, d in tagging if d is not None and d.forward.keep_mailbox]
        mailboxes = [r.policy for r in keeping if r.policy is not None]
        if not mailboxes:
            return [], []
        written = self.tagged_copies.write(
            mailboxes,
            mail.key,
            lambda: tagged_message(mail, added),
            mail.envelope.sender.strip().strip("<>"),
            mail.envelope,
        )
        if written:
            log.info(
                "tagged_copy queue_id=%s to=%s",
                mail.queue_id,
                readable(",".join(copy.address for copy in written)),
            )
        else:
            log.info("tagged_copy_already_written queue_id=%s", mail.queue_id)
        return keeping, written

    def _auto_replies(
        self, mail: Collected, kept: Decided, now: datetime
    ) -> tuple[list[tuple[Policy, str]], Answered, str, datetime] | None:
        """The auto-reply rows' contents, one per answering mailbox (the decision answers
        only clean mail)."""
        replies = [
            (r.policy, d.auto_reply)
            for r, d in kept
            if r.policy is not None and d is not None and d.auto_reply is not None
        ]
        if not replies or self.auto_replies is None:
            return None
        message = mail.message
        ids = [message_ids(value) for value in message.header_values("Message-ID")[:1]]
        answered = Answered(
            sender=mail.envelope.sender.strip().strip("<>"),
            subject=message.subject,
            message_id=ids[0][0] if ids and ids[0] else "",
            references=" ".join(
                found
                for value in message.header_values("References")
                for found in message_ids(value)
            ),
        )
        return replies, answered, mail.key, now


def forward_edits(
    mail: Collected, kept: Decided, present: set[str], edits: list[Edit], trace_key: bytes
) -> int:
    """転送設定 of the recipients whose copy is delivered: add each target once (not one
    already ``present``: a recipient, or a mailbox of ours decided on its own), remove
    the mailbox when none of its targets says 残す, and trace the mailbox so the copy is
    never forwarded by it again. Returns how many targets were added."""
    added: list[str] = []
    for recipient, decision in kept:
        if recipient.policy is None or decision is None or not decision.forward.targets:
            continue
        for target in decision.forward.targets:
            if target not in present and target not in added:
                added.append(target)
                edits.append(AddRecipient(target))
        if not decision.forward.keep_mailbox and not recipient.forwarded_by:
            edits.append(DeleteRecipient(recipient.given))
        trace = trace_value(recipient.policy.address, mail.message.message_id, trace_key)
        edits.append(AddHeader(FORWARD_TRACE, trace))
    if added:
        log.info("forward queue_id=%s to=%s", mail.queue_id, ",".join(added))
    return len(added)


def scan_headers(scans: ScanResults) -> list[AddHeader]:
    """X-Sekisho-Virus and X-Sekisho-Spam-Score of a delivered copy, for the scans run."""
    added = []
    if scans.virus_scanned:
        added.append(AddHeader(VIRUS_HEADER, scans.virus or "clean"))
    if scans.spam is not None:
        verdict = scans.spam
        score = f"{verdict.score:.1f} / {verdict.threshold:.1f} ({verdict.engine})"
        added.append(AddHeader(SPAM_SCORE, score))
    return added


def foreign_own_headers(headers: Sequence[tuple[str, str]]) -> list[ChangeHeader]:
    """Removals of arriving X-Sekisho-* fields, last occurrence first, so each index
    still names the same field when Postfix applies it."""
    seen: dict[str, int] = {}
    removals = []
    for name, _ in headers:
        key = name.lower()
        seen[key] = seen.get(key, 0) + 1
        if is_own_header(name) and key != FORWARD_TRACE.lower():
            removals.append(ChangeHeader(name, seen[key], ""))
    return removals[::-1]


def subject_tag(headers: Sequence[tuple[str, str]]) -> ChangeHeader | AddHeader:
    for name, value in headers:
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


def tagged_message(mail: Collected, added: list[AddHeader]) -> Iterator[bytes]:
    """The message as the tagging mailboxes get it, in chunks: the Received field Postfix
    wrote for the client (a milter never sees it), the subject tagged, sekisho's fields,
    then the body as the spool holds it."""
    subject: ChangeHeader | AddHeader | None = subject_tag(mail.message.headers)
    received = postfix_received_field(mail.envelope, formatdate(localtime=True), show_login=False)
    lines = [received]
    for name, value in mail.kept_headers():
        if isinstance(subject, ChangeHeader) and name.lower() == "subject":
            lines.append(header_line(name, subject.value))
            subject = None
        else:
            lines.append(header_line(name, value))
    if isinstance(subject, AddHeader):
        lines.append(header_line(subject.name, subject.value))
    lines.extend(header_line(field.name, field.value) for field in added)
    yield b"".join(lines) + b"\n"
    yield from islice(mail.maildir_form(), 1, None)  # the header block comes first


def _is_utf8_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # surrogate escapes stand for undecodable raw bytes
        return False
    return True
