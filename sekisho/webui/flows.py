"""What every settings flow shares: one-time tokens between its steps, and the change
of the logged-in mailbox's settings in one transaction.

A step that changes something posts a token issued by the step before it; a token is
taken at most once, so a second post (back button, double click) changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from flask import session
from flask_login import current_user
from sqlalchemy.orm import Session

from sekisho.store.accounts import require_account
from sekisho.webui.context import store
from sekisho.webui.forms import ConfirmEntriesForm, TokenForm


def current_account_id() -> int:
    with store().read() as db:
        return require_account(db, current_user.address).id


def change(work: Callable[[Session, int], object]) -> None:
    """Run ``work(session, account id)`` in one transaction for the logged-in mailbox."""
    with store().transaction() as db:
        work(db, require_account(db, current_user.address).id)


class Pending:
    """One step's one-time token and the data it carries, kept in the session."""

    def __init__(self, flow: str, step: str) -> None:
        self._key = f"pending:{flow}:{step}"

    def issue(self, **data: Any) -> str:
        token = secrets.token_urlsafe(16)
        session[self._key] = {"token": token, **data}
        return token

    def take(self, form: TokenForm | ConfirmEntriesForm) -> dict[str, Any] | None:
        """The data issued with the form's token, once; None for a stale or forged post."""
        if not form.validate_on_submit():
            return None
        pending = session.get(self._key)
        token = form.token.data
        if not pending or not token or not secrets.compare_digest(pending["token"], token):
            return None
        session.pop(self._key, None)
        return dict(pending)
