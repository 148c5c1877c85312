"""What every settings flow shares: one-time tokens between its steps, the change of the
logged-in mailbox's settings in one transaction, and the answer to a stale step.

A step that changes something posts a token issued by the step before it and kept in
the session. The session lives in a signed cookie, so a browser that replays an old
cookie (two clicks racing, the back button) can present a token twice: the change itself
must then be harmless (the store's unique keys and one-time staged uploads see to it) and
is answered as stale, with nothing changed twice.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import flash, redirect, request, session
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from sekisho.store.accounts import require_account
from sekisho.store.audit import ChangeDetail, ChangeKind, record_change
from sekisho.store.models import utcnow
from sekisho.webui.context import store
from sekisho.webui.forms import ConfirmEntriesForm, TokenForm

log = logging.getLogger("sekisho.web")


def client_address() -> str:
    return request.remote_addr or "unknown"


def current_account_id() -> int:
    with store().read() as db:
        return require_account(db, current_user.address).id


def change(work: Callable[[Session, int], ChangeDetail], area: str | None = None) -> bool:
    """Run ``work(session, account id)`` in one transaction for the logged-in mailbox;
    what it returns, what it changed, goes into the 変更履歴 with the change.

    ``area`` is the settings screen the 変更履歴 names, when it is not the blueprint's
    name: a change made from another screen's blueprint (the spam folder adding to the
    allow list), or the auto_reply blueprint's, stored as "autoreply". False when
    the store refused it as a duplicate: the same change arrived twice at once (a double
    click), and the first one is kept.
    """
    try:
        with store().transaction() as db:
            account_id = require_account(db, current_user.address).id
            detail = work(db, account_id)
            where = area or request.blueprint or ""
            record_change(db, account_id, where, client_address(), utcnow(), detail)
    except IntegrityError:
        log.info("change_refused_as_duplicate address=%s", current_user.address)
        return False
    return True


def switched(**switches: bool) -> ChangeDetail:
    """The detail of a screen of switches: the names of those now on."""
    return ChangeDetail(ChangeKind.SET, tuple(name for name, on in switches.items() if on))


def stale(to: str) -> Response:
    """Back to ``to`` saying that this step had already been used or had expired."""
    flash(gettext("That screen was no longer valid, so nothing was changed."), "warning")
    return redirect(to)


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
