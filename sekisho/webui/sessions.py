"""Web sessions that the server can end: logout, password change, suspension, lifetime.

The session is Flask's signed cookie; the server keeps no session table. What makes a
copied cookie useless is what the cookie carries and the account row holds:

- ``epoch``: the account's ``session_epoch`` at login. A logout and a suspension bump it
  (sekisho.store.accounts.end_sessions), which ends every session of the account at once,
  in every browser. Ending only the one browser that logged out would need a row per
  session; a copied cookie is the same session as its original, so it would not help.
- ``key``: an HMAC of the stored password hash. Any change of the hash ends the sessions,
  whoever made it (the owner's 「変更」, ``sekisho account reset-password``, a change made
  through Dovecot or straight in the table), with no code path left to remember a bump.
  The browser that changed its own password is bound to the new hash and stays in.
- ``since``: the login time; the session ends ``session_absolute_hours`` after it however
  busy it is. The idle timeout is Flask's permanent-session lifetime, checked against the
  cookie's signed timestamp.

Flask-Login's user loader reads the account row on every request anyway, so the check
costs one HMAC and no extra query.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import current_app, session

from sekisho.store.models import Account
from sekisho.webui.context import settings

_KEY = "auth"
Clock = Callable[[], datetime]


def now() -> datetime:
    """The app's clock (tests pass a controllable one to create_app)."""
    clock: Clock = current_app.extensions["sekisho.clock"]
    return clock()


def _password_key(password_hash: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, password_hash.encode(), hashlib.sha256).hexdigest()


def bind(account: Account, since: datetime | None = None) -> None:
    """Tie the session to the account as it is now; ``since`` keeps an earlier login time."""
    started = since or now()
    session[_KEY] = {
        "epoch": account.session_epoch,
        "key": _password_key(account.password_hash),
        "since": started.timestamp(),
    }


def login_time() -> datetime | None:
    bound = session.get(_KEY)
    return datetime.fromtimestamp(bound["since"], UTC) if bound else None


def is_current(account: Account) -> bool:
    """Whether this request's session still belongs to ``account`` as it is now."""
    bound = session.get(_KEY)
    if not bound:
        return False
    lifetime = timedelta(hours=settings().session_absolute_hours)
    return (
        bound["epoch"] == account.session_epoch
        and hmac.compare_digest(bound["key"], _password_key(account.password_hash))
        and now() < datetime.fromtimestamp(bound["since"], UTC) + lifetime
    )
