"""The audit log: login attempts (recorded for every try, counted for the throttle) and
settings changes — the owner's ログイン履歴 and 変更履歴, and ``sekisho history``.

Throttle: after MAX_FAILURES_PER_ADDRESS failed logins for one address (since its last
good login) or MAX_FAILURES_PER_CLIENT from one client address within WINDOW, further
logins are refused until the oldest of them leaves the window. A good password does not
get through meanwhile: guessing must not go on however the guesses are spread. Dovecot's
POP3, IMAP and SMTP AUTH logins count into the same rows and are refused by the same
answer, through its auth policy server (sekisho.policy).

The two limits are far apart on purpose. The per-address one (5 in 15 minutes) is what
protects a mailbox's password. The per-client one only slows one address guessing across
many mailboxes, and one client address can be thousands of customers: a mobile carrier's
carrier-grade NAT, a company or a school behind one gateway. At 200 in 15 minutes their
typos together do not lock them all out, while one address trying a password on every
mailbox still gets at most 800 tries an hour (each mailbox at most 5 of them).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from sekisho.rules.addresses import normalize_address
from sekisho.store.models import Account, LoginAttempt, SettingsChange

log = logging.getLogger("sekisho.audit")
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ADDRESS = 5
MAX_FAILURES_PER_CLIENT = 200
HISTORY_SHOWN = 20
KEEP = timedelta(days=90)
# A change's detail keeps this many of its values, each cut to VALUE_CHARS: the 変更履歴
# names what changed, it is not a copy of a 10,000-line upload.
DETAIL_VALUES = 10
VALUE_CHARS = 100


class LoginService(StrEnum):
    """The door a login came by (LoginAttempt.service), as ログイン履歴 names it."""

    WEB = "web"
    POP3 = "pop3"
    IMAP = "imap"
    SMTP = "smtp"  # SMTP AUTH of a submission (Postfix's, or Dovecot's own, through Dovecot)
    OTHER = "other"  # another Dovecot service (ManageSieve …)
    # Not a login: an operator cleared the lockout (``unlock``). Recorded as succeeded, so
    # the count restarts there as after a good login, and the owner sees why.
    OPERATOR = "operator"


class ChangeKind(StrEnum):
    ADDED = "added"  # values: the entries registered
    REMOVED = "removed"  # values: the entries deleted
    REMOVED_ALL = "removed_all"  # 「全て削除」; count: how many went
    UPLOADED = "uploaded"  # a list replaced by a file; values: the new list
    SET = "set"  # values: the setting's new state, in tokens the screen's area defines
    IMPORTED = "imported"  # ``settings import``; values: the document's sections given


@dataclass(frozen=True)
class ChangeDetail:
    """What one change did, as the 変更履歴 tells it."""

    kind: ChangeKind
    values: tuple[str, ...] = ()
    count: int | None = None  # how many values there were; None: len(values)

    @property
    def total(self) -> int:
        return len(self.values) if self.count is None else self.count

    def to_dict(self) -> dict[str, object]:
        """The detail as stored (capped) and as ``sekisho history`` prints it."""
        kept = [value[:VALUE_CHARS] for value in self.values[:DETAIL_VALUES]]
        return {"kind": self.kind.value, "values": kept, "count": self.total}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> ChangeDetail | None:
        """The detail written by ``to_json``; None for a kind this version does not know
        (a row written by a newer one), which the history then names by its screen."""
        data = json.loads(text)
        try:
            kind = ChangeKind(data["kind"])
        except ValueError:
            return None
        return cls(kind, tuple(data["values"]), int(data["count"]))


def record_attempt(
    session: Session,
    address: str,
    client_address: str,
    account_id: int | None,
    succeeded: bool,
    now: datetime,
    *,
    service: LoginService,
) -> None:
    session.add(
        LoginAttempt(
            address=normalize_address(address)[:320],
            account_id=account_id,
            client_address=client_address[:45],
            succeeded=succeeded,
            at=now,
            service=service.value,
        )
    )


def _failures(session: Session, condition: ColumnElement[bool], since: datetime) -> int:
    count = session.scalar(
        select(func.count(LoginAttempt.id)).where(
            condition, LoginAttempt.succeeded.is_(False), LoginAttempt.at > since
        )
    )
    return int(count or 0)


def _counted_since(session: Session, address: str, now: datetime) -> datetime:
    """Where the address's failures start to count: the window, or its last good login."""
    last_good = session.scalar(
        select(func.max(LoginAttempt.at)).where(
            LoginAttempt.address == address, LoginAttempt.succeeded.is_(True)
        )
    )
    return max(filter(None, [now - WINDOW, last_good]))


def success_clears_failures(session: Session, address: str, now: datetime) -> bool:
    """Whether a good login now would end counted failures of this address. A good login
    that clears nothing changes no throttle, so a caller may leave it unrecorded."""
    address = normalize_address(address)
    condition = LoginAttempt.address == address
    return _failures(session, condition, _counted_since(session, address, now)) > 0


def throttled_until(
    session: Session, address: str, client_address: str, now: datetime
) -> datetime | None:
    """When logins for this address from this client may be tried again; None: now."""
    address = normalize_address(address)
    since = _counted_since(session, address, now)
    checks = (
        (LoginAttempt.address == address, MAX_FAILURES_PER_ADDRESS, since),
        (LoginAttempt.client_address == client_address, MAX_FAILURES_PER_CLIENT, now - WINDOW),
    )
    for condition, limit, start in checks:
        until = _locked_until(session, condition, limit, start)
        if until is not None:
            return until
    return None


def _locked_until(
    session: Session, condition: ColumnElement[bool], limit: int, start: datetime
) -> datetime | None:
    if _failures(session, condition, start) < limit:
        return None
    oldest = session.scalars(
        select(LoginAttempt.at)
        .where(condition, LoginAttempt.succeeded.is_(False), LoginAttempt.at > start)
        .order_by(LoginAttempt.at.desc())
        .limit(limit)
    ).all()[-1]
    return oldest + WINDOW


@dataclass(frozen=True)
class Unlocked:
    """What ``unlock`` cleared."""

    failures: int  # the address's failed logins that counted and no longer do
    locked_until: datetime | None  # when its lockout would have ended; None: not locked


def unlock(session: Session, account: Account, now: datetime) -> Unlocked:
    """Stop the account's failed logins counting, as a good login would: a mail program
    with a stale password can keep its owner locked out of every door. The failures stay
    in the history, with the unlock after them. The per-client limit is not lifted: it
    guards every mailbox, and a client's count ends with its window."""
    address = normalize_address(account.address)
    condition = LoginAttempt.address == address
    since = _counted_since(session, address, now)
    cleared = Unlocked(
        _failures(session, condition, since),
        _locked_until(session, condition, MAX_FAILURES_PER_ADDRESS, since),
    )
    if cleared.failures:
        record_attempt(
            session, address, "operator", account.id, True, now, service=LoginService.OPERATOR
        )
    return cleared


def history(session: Session, account_id: int) -> list[LoginAttempt]:
    """The account's latest logins, newest first (failures with its address included)."""
    return list(
        session.scalars(
            select(LoginAttempt)
            .where(LoginAttempt.account_id == account_id)
            .order_by(LoginAttempt.at.desc(), LoginAttempt.id.desc())
            .limit(HISTORY_SHOWN)
        )
    )


def record_change(
    session: Session,
    account_id: int,
    area: str,
    client_address: str,
    now: datetime,
    detail: ChangeDetail | None = None,
) -> None:
    session.add(
        SettingsChange(
            account_id=account_id,
            area=area[:40],
            client_address=client_address[:45],
            at=now,
            detail=detail.to_json() if detail else None,
        )
    )
    account = session.get(Account, account_id)
    # The operator's record too (web.log, the journal), not only the owner's 変更履歴. The
    # values stay out of it: they are the owner's and may hold any character.
    log.info(
        "settings_changed address=%s area=%s client=%s change=%s count=%s",
        account.address if account else account_id,
        area,
        client_address,
        detail.kind if detail else "-",
        detail.total if detail else "-",
    )


def detail_of(change: SettingsChange) -> ChangeDetail | None:
    """The change's detail; None for a row from before details were kept."""
    return ChangeDetail.from_json(change.detail) if change.detail else None


def changes(session: Session, account_id: int) -> list[SettingsChange]:
    """The account's latest settings changes, newest first."""
    return list(
        session.scalars(
            select(SettingsChange)
            .where(SettingsChange.account_id == account_id)
            .order_by(SettingsChange.at.desc(), SettingsChange.id.desc())
            .limit(HISTORY_SHOWN)
        )
    )


def forget_old(session: Session, now: datetime) -> int:
    forgotten = 0
    for model in (LoginAttempt, SettingsChange):
        result = session.execute(
            delete(model).where(model.at < now - KEEP).execution_options(synchronize_session=False)
        )
        forgotten += int(getattr(result, "rowcount", 0) or 0)
    return forgotten
