"""``sekisho worker``: sends the outbox through Postfix and purges what has expired.

Each round claims the due rows (sekisho.store.outbox), builds their mail, and hands each
mail to the re-injection listener (no milter there) with a null envelope sender, as
auto-generated mail is sent (RFC 3834 §3.3; auto-replies may use the mailbox instead,
``auto_reply_sender``). A row is marked sent only after Postfix answered 250 to the
whole transaction; a 4xx or a connection failure retries it later with backoff, a 5xx
gives it up (and says so in the log). Any number of workers may run: an auto-reply is
sent only by the worker holding its sender's lease (sekisho.store.auto_reply).
"""

from __future__ import annotations

import json
import logging
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from functools import partial

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sekisho import metrics
from sekisho.config import Settings, local_secret_key
from sekisho.maildir import Ownership
from sekisho.mails.auto_reply import compose_auto_reply
from sekisho.mails.notice import compose_notice
from sekisho.mails.virus_report import compose_virus_report
from sekisho.quarantine_folder import QuarantineFolder
from sekisho.sites import site_url
from sekisho.store import audit, auto_reply, delivery_log, outbox
from sekisho.store.accounts import find_account
from sekisho.store.db import Store
from sekisho.store.models import OutboxMessage, QuarantinedMessage, utcnow
from sekisho.store.quarantine import quarantined_by_ids
from sekisho.store.spam_settings import accounts_wanting_notices

log = logging.getLogger("sekisho.worker")
BATCH = 100
SMTP_TIMEOUT = 60
PURGE_EVERY = timedelta(hours=1)
WORKER_STARTED = "worker_started"


@dataclass(frozen=True)
class Delivery:
    """One mail to send and the outbox rows it settles (several for a digest).

    ``compose`` builds it when its turn comes, so one that cannot be built fails alone;
    None means nothing is left to say (every copy of a notice already released).
    """

    kind: str  # the outbox kind (metrics)
    row_ids: list[int]
    recipient: str
    compose: Callable[[], Message | None]
    sender: str = ""  # the envelope sender; the null sender by default
    # Told whether Postfix took the mail, once composing succeeded (an auto-reply's record).
    settle: Callable[[bool], None] = lambda _sent: None


class TryLaterError(Exception):
    """Nothing wrong with the row, but it cannot go now (another worker is on its
    sender, or the store did not answer)."""


class SendError(Exception):
    def __init__(self, reply: str, permanent: bool, session_lost: bool = False) -> None:
        super().__init__(reply)
        self.permanent = permanent
        self.session_lost = session_lost


class Worker:
    def __init__(self, settings: Settings, store: Store) -> None:
        self._settings = settings
        self._store = store
        # Read at start: a worker that could not sign release links must not start.
        self._secret_key = local_secret_key(settings)
        self._quarantine_folder = QuarantineFolder(
            store, settings.mail_root.absolute(), Ownership(settings.mailbox_uid_gid)
        )
        host, _, port = settings.reinject_smtp.rpartition(":")
        self._smtp_address = (host, int(port))

    def run(self, stop: threading.Event) -> None:
        close_metrics = metrics.serve(
            self._settings.worker_metrics_listen, metrics.worker_page(self._store)
        )
        log.info("%s reinject=%s", WORKER_STARTED, self._settings.reinject_smtp)
        try:
            self._rounds(stop)
        finally:
            close_metrics()

    def _rounds(self, stop: threading.Event) -> None:
        next_purge = time.monotonic()
        while not stop.is_set():
            if time.monotonic() >= next_purge:
                self.housekeeping(utcnow())
                next_purge = time.monotonic() + PURGE_EVERY.total_seconds()
            try:
                settled = self.send_due()
            except Exception:  # the store unreachable, say: try again, never exit
                log.exception("outbox_round_failed")
                settled = 0
            if settled == 0:
                stop.wait(self._settings.worker_poll_seconds)

    def housekeeping(self, now: datetime) -> None:
        try:
            purged, forgotten = purge_expired(
                self._quarantine_folder, self._store, now, self._settings.delivery_log_days
            )
        except Exception:
            log.exception("housekeeping_failed")
            return
        log.info("housekeeping purged=%d outbox_rows_deleted=%d", purged, forgotten)

    def send_due(self, now: datetime | None = None) -> int:
        """One round: claim, send, mark. Returns how many rows it settled or retried."""
        now = now or utcnow()
        claimed = outbox.claim(self._store, BATCH, now)
        if not claimed.rows:
            return 0
        deliveries = list(self._deliveries(claimed.rows))
        connection: smtplib.SMTP | None = None
        try:
            for index, delivery in enumerate(deliveries):
                try:
                    message = delivery.compose()
                except TryLaterError as later:
                    self._failed(claimed, delivery.row_ids, str(later), False)
                    continue
                except Exception as error:  # built from stored data: it never will be
                    log.exception("outbox_compose_failed rows=%s", delivery.row_ids)
                    self._failed(claimed, delivery.row_ids, f"cannot build: {error}", True)
                    continue
                if message is None:
                    outbox.mark_sent(self._store, claimed, delivery.row_ids)
                    continue
                try:
                    connection = connection or self._connect()
                    self._send(connection, delivery.sender, delivery.recipient, message)
                except SendError as failure:
                    delivery.settle(False)
                    metrics.OUTBOX_FAILED.labels(delivery.kind).inc()
                    log.warning(
                        "outbox_send_failed rows=%s to=%s permanent=%s reply=%s",
                        delivery.row_ids,
                        delivery.recipient,
                        failure.permanent,
                        failure,
                    )
                    if failure.session_lost:
                        # Postfix unreachable or stalled: the rest of the round would wait
                        # on it too, past its lease; all of it is tried again later.
                        rest = [i for later in deliveries[index:] for i in later.row_ids]
                        self._failed(claimed, rest, str(failure), False)
                        break
                    self._failed(claimed, delivery.row_ids, str(failure), failure.permanent)
                    continue
                delivery.settle(True)
                outbox.mark_sent(self._store, claimed, delivery.row_ids)
                metrics.OUTBOX_SENT.labels(delivery.kind).inc()
                log.info("outbox_sent rows=%s to=%s", delivery.row_ids, delivery.recipient)
        finally:
            _close(connection)
        return len(claimed.rows)

    def _failed(self, claimed: outbox.Claimed, ids: list[int], error: str, permanent: bool) -> None:
        outbox.mark_failed_attempt(self._store, claimed, ids, error, permanent)

    def _connect(self) -> smtplib.SMTP:
        try:
            return smtplib.SMTP(*self._smtp_address, timeout=SMTP_TIMEOUT)
        except (OSError, smtplib.SMTPException) as error:
            raise SendError(
                f"cannot reach {self._settings.reinject_smtp}: {error}", False, session_lost=True
            ) from error

    def _send(
        self, connection: smtplib.SMTP, sender: str, recipient: str, message: Message
    ) -> None:
        try:
            connection.send_message(message, from_addr=sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as error:
            code, reply = error.recipients[recipient]
            raise SendError(f"{code} {reply.decode(errors='replace')}", code >= 500) from error
        except smtplib.SMTPResponseException as error:
            answer = error.smtp_error
            text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
            raise SendError(f"{error.smtp_code} {text}", error.smtp_code >= 500) from error
        except (OSError, smtplib.SMTPException) as error:
            raise SendError(f"connection lost: {error}", False, session_lost=True) from error
        except (UnicodeError, ValueError, TypeError) as error:  # the message cannot be written
            raise SendError(f"cannot write the mail: {error}", True) from error

    def _deliveries(self, rows: list[OutboxMessage]) -> Iterator[Delivery]:
        notices = [row for row in rows if row.kind == outbox.QUARANTINE_NOTICE]
        yield from self._notice_deliveries(notices)
        for row in rows:
            if row.kind == outbox.VIRUS_REPORT:
                yield self._virus_report(row)
            elif row.kind == outbox.AUTO_REPLY:
                yield self._auto_reply(row)
            elif row.kind != outbox.QUARANTINE_NOTICE:
                # Written by a newer version: left for a worker that knows it.
                log.error("outbox_unknown_kind id=%d kind=%s", row.id, row.kind)

    def _virus_report(self, row: OutboxMessage) -> Delivery:
        def compose() -> Message:
            details = json.loads(row.details or "{}")
            original = outbox.content_of(self._store, row.id)
            return compose_virus_report(self._settings, row.envelope_to, details, original)

        return Delivery(row.kind, [row.id], row.envelope_to, compose)

    def _auto_reply(self, row: OutboxMessage) -> Delivery:
        """Built, then sent only while the owner's setting still answers today and no
        reply went to this sender within 24 hours. The clock is read at each step, not
        at the round's start: a lease must not be born expired at the end of a long round."""
        details = json.loads(row.details or "{}")
        mailbox = str(details.get("mailbox", ""))
        account_id = row.account_id or 0

        def compose() -> Message | None:
            message = compose_auto_reply(details, row.envelope_to, utcnow())
            try:
                taken = auto_reply.reserve(self._store, account_id, row.envelope_to, utcnow())
            except SQLAlchemyError as error:  # the store, not the row: try again later
                raise TryLaterError(f"store unavailable: {error}") from error
            if taken is auto_reply.Reservation.BUSY:
                raise TryLaterError("another worker is replying to this sender")
            if taken is not auto_reply.Reservation.TAKEN:
                log.info("auto_reply_skipped row=%d reason=%s", row.id, taken.value)
                return None
            return message

        def settle(sent: bool) -> None:
            auto_reply.settle(self._store, account_id, row.envelope_to, utcnow() if sent else None)

        sender = mailbox if self._settings.auto_reply_sender == "mailbox" else ""
        return Delivery(row.kind, [row.id], row.envelope_to, compose, sender, settle)

    def _notice_deliveries(self, rows: list[OutboxMessage]) -> Iterator[Delivery]:
        """One notice per row, or (with a digest interval) one per mailbox for its rows."""
        with self._store.read() as session:
            records = quarantined_by_ids(
                session, [row.quarantine_id for row in rows if row.quarantine_id]
            )
            wanted = accounts_wanting_notices(
                session, {row.account_id for row in rows if row.account_id}
            )
            # Each owner's links point at their own login site when it names its host.
            web_urls = {
                address: self._web_url(session, address)
                for address in {row.envelope_to for row in rows}
            }
        groups: dict[str, list[OutboxMessage]] = {}
        for row in rows:
            key = row.envelope_to if self._settings.notice_digest_minutes > 0 else str(row.id)
            groups.setdefault(key, []).append(row)
        for group in groups.values():
            recipient = group[0].envelope_to
            # Nothing to say about copies already released, nor to an owner who turned
            # 隔離メール通知 off (or was suspended) since they were caught.
            waiting = [
                records[row.quarantine_id]
                for row in group
                if row.quarantine_id in records
                and records[row.quarantine_id].released_at is None
                and row.account_id in wanted
            ]
            yield Delivery(
                outbox.QUARANTINE_NOTICE,
                [row.id for row in group],
                recipient,
                partial(self._notice, recipient, waiting, web_urls[recipient]),
            )

    def _web_url(self, session: Session, address: str) -> str:
        account = find_account(session, address)
        own_site = site_url(account.domain.site) if account is not None else None
        return own_site or self._settings.public_web_url

    def _notice(
        self, recipient: str, waiting: list[QuarantinedMessage], web_url: str
    ) -> Message | None:
        if not waiting:
            return None
        return compose_notice(self._settings, self._secret_key, recipient, waiting, web_url)


def purge_expired(
    folder: QuarantineFolder, store: Store, now: datetime, log_days: int = delivery_log.KEPT_DAYS
) -> tuple[int, int]:
    """Quarantined copies whose time is up; outbox rows, login attempts, auto-reply
    records and 受信ログ rows long past."""
    purged = folder.purge(now)
    with store.transaction() as session:
        forgotten = (
            outbox.delete_finished(session, now)
            + audit.forget_old(session, now)
            + auto_reply.forget_old_replies(session, now)
        )
    # In short transactions of its own: a day of 受信ログ rows in this one held SQLite's
    # write lock past the milter's busy timeout.
    return purged, forgotten + delivery_log.forget_old(store, now, log_days)


def _close(connection: smtplib.SMTP | None) -> None:
    if connection is None:
        return
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()
