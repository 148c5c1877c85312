"""Operators: what they did (the operator part of the audit log) and their API tokens.

An actor is named by where it came from: ``cli:<login user>`` for the command line,
``api:<token name>`` for the REST API.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sekisho.store.accounts import AccountError
from sekisho.store.models import ApiToken, Domain, OperatorAction, utcnow

SHOWN_ACTIONS = 50
API_RATE_WINDOW = timedelta(minutes=1)
REFUSED_FOR_RATE = "429"  # the details of an API call refused by the rate limit


def record_action(
    session: Session, actor: str, action: str, target: str = "", details: str = ""
) -> None:
    session.add(
        OperatorAction(
            at=utcnow(), actor=actor[:100], action=action[:60], target=target[:320], details=details
        )
    )


def latest_actions(session: Session, limit: int = SHOWN_ACTIONS) -> list[OperatorAction]:
    return list(
        session.scalars(
            select(OperatorAction)
            .order_by(OperatorAction.at.desc(), OperatorAction.id.desc())
            .limit(limit)
        )
    )


def seconds_until_api_call(session: Session, actor: str, per_minute: int, now: datetime) -> int:
    """0 when ``actor`` may call the API now: fewer than ``per_minute`` of its calls of
    the last minute were answered (refused ones do not count). Read from the audit log,
    which every web process of every node writes, so the limit holds for the token
    across all of them. Else the seconds until the oldest of those calls leaves the
    minute."""
    counted, oldest = session.execute(
        select(func.count(), func.min(OperatorAction.at)).where(
            OperatorAction.actor == actor,
            OperatorAction.at > now - API_RATE_WINDOW,
            OperatorAction.details != REFUSED_FOR_RATE,
        )
    ).one()
    if counted < per_minute or oldest is None:
        return 0
    return max(1, math.ceil((oldest + API_RATE_WINDOW - now).total_seconds()))


@dataclass(frozen=True)
class TokenScope:
    """Whose token it is and the domains it may act on (empty: all)."""

    name: str
    domains: frozenset[str]

    def covers(self, domain_name: str) -> bool:
        return not self.domains or domain_name in self.domains


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, domains: list[str]) -> str:
    """A new token, returned once: only its digest is stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError("a token name is 1 to 100 characters")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise AccountError(f"a token named {name} exists already")
    wanted = sorted({domain.strip().lower() for domain in domains})
    known = set(session.scalars(select(Domain.name).where(Domain.name.in_(wanted))))
    unknown = [domain for domain in wanted if domain not in known]
    if unknown:
        raise AccountError(f"no domain {', '.join(unknown)}")
    token = "sks_" + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            name=name, token_digest=_digest(token), domains=" ".join(wanted), created_at=utcnow()
        )
    )
    return token


def revoke_token(session: Session, name: str) -> None:
    result = session.execute(delete(ApiToken).where(ApiToken.name == name))
    if not getattr(result, "rowcount", 0):
        raise AccountError(f"no token named {name}")


def token_scope(session: Session, token: str) -> TokenScope | None:
    """The scope of a valid token; None for any other text."""
    found = session.scalar(select(ApiToken).where(ApiToken.token_digest == _digest(token)))
    if found is None:
        return None
    return TokenScope(found.name, frozenset(found.domains.split()))
