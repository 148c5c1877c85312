"""The spam folder's copies and their rows together: read safely, release, delete, purge.

A quarantined copy is a file in the mailbox's ``.Junk`` Maildir and a row in the store.
Every action here keeps the two in step, with the file side made durable first:
- release first rewrites the file where it is without X-Sekisho-Quarantine-Reason
  (which is about the spam folder, not the inbox; a new file renamed over the old one),
  then moves it into the inbox with one rename (the mail is in exactly one folder at
  every moment), fsyncs both folders, and only then marks the row released; releasing
  again finds the mark and does nothing;
- delete and purge remove the file, then the row; a file already gone (the owner's mail
  program deleted or moved it) is no error.
Only files the store recorded are touched: mail the owner put into Junk themselves stays.
"""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from enum import Enum
from html.parser import HTMLParser
from pathlib import Path
from typing import BinaryIO

from sekisho.maildir import (
    JUNK_FOLDER,
    Ownership,
    find_message,
    mailbox_path,
    move_to_new,
    remove_message,
    rewrite_message,
)
from sekisho.milter.headers import QUARANTINE_REASON
from sekisho.rules.encoded_words import decode_header_text, readable
from sekisho.store.db import Store
from sekisho.store.models import Account, QuarantinedMessage, utcnow
from sekisho.store.quarantine import expired, quarantine_ids_up_to, quarantined_one

# The logger keeps the module's old name: it is in every log line (%(name)s), where an
# operator's filters and alerts may look for "sekisho.spamfolder purge_failed".
log = logging.getLogger("sekisho.spamfolder")

# The safe view reads at most this much of a message and shows at most this much text.
VIEW_MAX_BYTES = 2_000_000
VIEW_MAX_CHARS = 100_000
_COPY_CHUNK = 64 * 1024


class Outcome(Enum):
    DONE = "done"
    ALREADY = "already"  # released before: nothing to do
    GONE = "gone"  # the copy is no longer in the spam folder (mail program moved it)
    UNKNOWN = "unknown"  # no such copy for this mailbox


@dataclass(frozen=True)
class SafeView:
    """A quarantined mail as plain text: headers a reader needs and the text body."""

    headers: list[tuple[str, str]]
    body: str
    truncated: bool


class QuarantineFolder:
    """The quarantined copies in the mailboxes' spam folders (.Junk), each with its row."""

    def __init__(self, store: Store, mail_root: Path, ownership: Ownership) -> None:
        self._store = store
        self._mail_root = mail_root
        self._ownership = ownership

    def _junk(self, address: str) -> Path:
        return mailbox_path(self._mail_root, address) / JUNK_FOLDER

    def _locate(self, account_id: int, record_id: int) -> tuple[str, QuarantinedMessage] | None:
        with self._store.read() as session:
            record = quarantined_one(session, account_id, record_id)
            account = session.get(Account, account_id)
            if record is None or account is None:
                return None
            return account.address, record

    def release(self, account_id: int, record_id: int) -> Outcome:
        found = self._locate(account_id, record_id)
        if found is None:
            return Outcome.UNKNOWN
        address, record = found
        if record.released_at is not None:
            return Outcome.ALREADY
        message = find_message(self._junk(address), record.file_name)
        if message is None:
            self._forget(record_id)
            return Outcome.GONE
        try:
            rewrite_message(message, _without_reason, self._ownership)
            move_to_new(message, mailbox_path(self._mail_root, address), self._ownership)
        except FileNotFoundError:
            # Gone between the lookup and the renames: another release (a second web
            # worker), a delete, or the mail program moving it from new/ to cur/.
            if find_message(self._junk(address), record.file_name) is None:
                return self._after_a_race(record_id)
            return self.release(account_id, record_id)
        with self._store.transaction() as session:
            row = session.get(QuarantinedMessage, record_id)
            if row is not None:
                row.released_at = utcnow()
        return Outcome.DONE

    def _after_a_race(self, record_id: int) -> Outcome:
        with self._store.read() as session:
            row = session.get(QuarantinedMessage, record_id)
            if row is not None and row.released_at is not None:
                return Outcome.ALREADY
        self._forget(record_id)
        return Outcome.GONE

    def delete(self, account_id: int, record_id: int) -> Outcome:
        found = self._locate(account_id, record_id)
        if found is None:
            return Outcome.UNKNOWN
        address, record = found
        if record.released_at is None:
            message = find_message(self._junk(address), record.file_name)
            if message is not None:
                remove_message(message)
        self._forget(record_id)
        return Outcome.DONE

    def purge(self, now: datetime | None = None) -> int:
        """Delete every copy whose time is up; returns how many went. A copy that cannot
        be deleted (permissions, a broken disk) is logged and tried again next run; the
        others go on."""
        with self._store.read() as session:
            due = [(r.id, r.account_id) for r in expired(session, now or utcnow())]
        purged = 0
        for record_id, account_id in due:
            try:
                self.delete(account_id, record_id)
            except OSError:
                log.exception("purge_failed record=%d", record_id)
                continue
            purged += 1
        return purged

    def view(self, account_id: int, record_id: int) -> SafeView | None:
        message_path = self.copy_path(account_id, record_id)
        return None if message_path is None else safe_view(message_path.read_bytes())

    def copy_path(self, account_id: int, record_id: int) -> Path | None:
        """Where the copy is now; None when it is not in the spam folder (any more)."""
        found = self._locate(account_id, record_id)
        if found is None:
            return None
        address, record = found
        return find_message(self._junk(address), record.file_name)

    def _forget(self, record_id: int) -> None:
        with self._store.transaction() as session:
            row = session.get(QuarantinedMessage, record_id)
            if row is not None:
                session.delete(row)


def _without_reason(message: BinaryIO) -> Iterator[bytes]:
    """The message without its X-Sekisho-Quarantine-Reason field (folded lines too),
    every other byte as it was; the body is streamed."""
    field = QUARANTINE_REASON.lower().encode("ascii") + b":"
    dropping = False
    for line in message:
        if line in (b"\n", b"\r\n"):
            yield line
            break
        if line[:1] not in (b" ", b"\t"):
            dropping = line.lower().startswith(field)
        if not dropping:
            yield line
    while chunk := message.read(_COPY_CHUNK):
        yield chunk


def safe_view(raw: bytes) -> SafeView:
    """The text a reader may see without risk: no HTML rendered, no part opened."""
    parsed = email.message_from_bytes(raw[:VIEW_MAX_BYTES], policy=email.policy.compat32)
    headers = [
        (name, decode_header_text(str(value)))
        for name in ("From", "To", "Cc", "Date", "Subject")
        if (value := parsed.get(name)) is not None
    ]
    try:
        modern = email.message_from_bytes(raw[:VIEW_MAX_BYTES], policy=email.policy.default)
        assert isinstance(modern, EmailMessage)
        body = _text_of(modern)
    except Exception:  # noqa: BLE001 -- spam is the mail with broken MIME: show it raw
        body = readable(
            raw[:VIEW_MAX_BYTES].partition(b"\n\n")[2].decode("utf-8", "surrogateescape")
        )
    truncated = len(raw) > VIEW_MAX_BYTES or len(body) > VIEW_MAX_CHARS
    return SafeView(headers, body[:VIEW_MAX_CHARS], truncated)


def _text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = str(content)
    return _html_text(text) if part.get_content_subtype() == "html" else text


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style"}:
            self._skipping += 1
        elif tag == "br":
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self._skipping:
            self._skipping -= 1
        elif tag in {"p", "div", "tr", "li"}:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.chunks.append(data)


def _html_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    return "".join(parser.chunks)


def delete_all(folder: QuarantineFolder, store: Store, account_id: int, last_id: int) -> int:
    """「全て削除」: the copies its confirmation counted (id ≤ ``last_id``), not one that
    arrived while the owner was reading it."""
    with store.read() as session:
        ids = quarantine_ids_up_to(session, account_id, last_id)
    for record_id in ids:
        folder.delete(account_id, record_id)
    return len(ids)
