"""The REST/JSON API for an ISP's customer system: ``/api/v1/`` (DESIGN.md, "Operators'
interfaces"), on only with ``api_enabled``.

Operators authenticate with a bearer token (``sekisho token create``), limited to its
domains: an account outside them is answered 404, as one that does not exist. The views
call the same store functions as the CLI and the web UI, with the same checks and
messages; errors are RFC 9457 problem details. No session cookie and no CSRF token: a
token in a header is not sent by a browser on its own. Every call lands in the audit log
under ``api:<token name>``, and each token has its own rate limit, counted in that log
across every web process and node.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request, url_for
from flask_babel import gettext
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sekisho.quarantine_folder import Outcome
from sekisho.rules.addresses import normalize_address
from sekisho.store import accounts, audit, operators, settings_doc
from sekisho.store.account_import import AccountImportError, import_accounts
from sekisho.store.models import Account, QuarantinedMessage, utcnow
from sekisho.store.quarantine import quarantine_page, quarantined_one
from sekisho.webui.context import quarantine_folder, settings, store
from sekisho.webui.openapi import document

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
PROBLEM = "application/problem+json"
_UNAUTHENTICATED = {"api.openapi"}


class ApiProblemError(Exception):
    """An RFC 9457 problem: the view stops and the client gets this answer."""

    def __init__(self, status: int, title: str, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.extra = extra


def init_app(app: Flask, per_minute: int) -> None:
    app.extensions["sekisho.api_calls_per_minute"] = per_minute
    app.register_blueprint(blueprint)


def _problem(error: ApiProblemError) -> Response:
    body = {"type": "about:blank", "title": error.title, "status": error.status}
    if error.detail:
        body["detail"] = error.detail
    response = jsonify({**body, **error.extra})
    response.status_code = error.status
    response.content_type = PROBLEM
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="sekisho"'
    if "retry_after" in error.extra:
        response.headers["Retry-After"] = str(error.extra["retry_after"])
    return response


@blueprint.errorhandler(ApiProblemError)
def _answer_problem(error: ApiProblemError) -> Response:
    return _problem(error)


@blueprint.errorhandler(404)
def _not_found(_error: Exception) -> Response:
    return _problem(ApiProblemError(404, "Not Found"))


@blueprint.errorhandler(405)
def _not_allowed(_error: Exception) -> Response:
    return _problem(ApiProblemError(405, "Method Not Allowed"))


@blueprint.errorhandler(SQLAlchemyError)
def _store_unavailable(_error: SQLAlchemyError) -> Response:
    return _problem(ApiProblemError(503, "Service Unavailable", "The store cannot be reached."))


@blueprint.before_request
def _authenticate() -> None:
    if request.endpoint in _UNAUTHENTICATED:
        return
    kind, _, token = request.headers.get("Authorization", "").partition(" ")
    with store().read() as session:
        scope = operators.token_scope(session, token.strip()) if kind == "Bearer" else None
        if scope is None:
            raise ApiProblemError(401, "Unauthorized", "A valid bearer token is needed.")
        per_minute = current_app.extensions["sekisho.api_calls_per_minute"]
        retry = operators.seconds_until_api_call(session, _actor(scope), per_minute, utcnow())
    g.api_scope = scope
    if retry:
        raise ApiProblemError(
            429, "Too Many Requests", f"Try again in {retry} seconds.", retry_after=retry
        )


@blueprint.after_request
def _audit(response: Response) -> Response:
    scope: operators.TokenScope | None = g.get("api_scope")
    if scope is not None:
        with store().transaction() as session:
            operators.record_action(
                session,
                _actor(scope),
                f"{request.method} {request.url_rule.rule if request.url_rule else request.path}",
                str((request.view_args or {}).get("address", "")),
                str(response.status_code),
            )
    return response


def _actor(scope: operators.TokenScope) -> str:
    return f"api:{scope.name}"


def _scope() -> operators.TokenScope:
    scope: operators.TokenScope = g.api_scope
    return scope


def _account(session: Session, address: str) -> Account:
    """The account, when the token's domains cover it; 404 either way otherwise."""
    found = accounts.find_account(session, address)
    if found is None or not _scope().covers(found.domain.name):
        raise ApiProblemError(404, "Not Found", f"No account {normalize_address(address)}.")
    return found


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiProblemError(400, "Bad Request", "The body must be a JSON object.")
    return body


def _settings_problem(error: settings_doc.SettingsImportError) -> ApiProblemError:
    # The messages of `sekisho settings import` and the web forms, in the caller's
    # language (Accept-Language; Japanese by default).
    messages = [problem.render(gettext) for problem in error.problems]
    return ApiProblemError(422, "Unprocessable Content", messages[0], errors=messages)


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())


@blueprint.post("/accounts")
def create_account() -> tuple[Response, int, dict[str, str]]:
    body = _json_object()
    with store().transaction() as session:
        domain = accounts.domain_for(session, str(body.get("address", "")))
        if domain is not None and not _scope().covers(domain.name):
            raise ApiProblemError(
                403, "Forbidden", f"This token may not add accounts to {domain.name}."
            )
        try:
            summary = import_accounts(session, [(1, body)])
        except AccountImportError as error:
            session.rollback()
            messages = [problem.message for problem in error.problems]
            exists = any(message.startswith("account ") for message in messages)
            raise ApiProblemError(
                409 if exists else 422,
                "Conflict" if exists else "Unprocessable Content",
                messages[0],
                errors=messages,
            ) from error
        created = _account(session, summary.addresses[0])
        facts = accounts.account_facts(created)
    location = url_for("api.show_account", address=facts["address"])
    return jsonify(facts), 201, {"Location": location}


@blueprint.get("/accounts")
def list_accounts() -> Response:
    number = request.args.get("page", "1")
    if not number.isdigit():
        raise ApiProblemError(400, "Bad Request", "page must be a positive number.")
    with store().read() as session:
        page = accounts.account_page(
            session, int(number), query=request.args.get("q") or None, within=_scope().domains
        )
        shown = [accounts.account_facts(account) for account in page.entries]
    return jsonify(accounts=shown, page=page.number, pages=page.pages, total=page.total)


@blueprint.get("/accounts/<address>")
def show_account(address: str) -> Response:
    with store().read() as session:
        return jsonify(accounts.account_facts(_account(session, address)))


@blueprint.patch("/accounts/<address>")
def change_account(address: str) -> Response:
    body = _json_object()
    status = body.get("status")
    if set(body) != {"status"} or status not in ("active", "suspended"):
        raise ApiProblemError(
            422, "Unprocessable Content", 'Give {"status": "active"|"suspended"}.'
        )
    with store().transaction() as session:
        found = _account(session, address)
        accounts.set_status(session, found.address, status)
        session.flush()
        session.refresh(found)
        return jsonify(accounts.account_facts(found))


@blueprint.post("/accounts/<address>/password-reset")
def reset_password(address: str) -> Response:
    """A customer who lost their password: a new temporary one, answered once (the help
    desk hands it over); the old one stops at once, the next login changes it first."""
    with store().transaction() as session:
        found = _account(session, address).address
        temporary = accounts.reissue_temporary_password(session, found)
    return jsonify(address=found, temporary_password=temporary)


@blueprint.post("/accounts/<address>/unlock")
def unlock(address: str) -> Response:
    """Clear the login lockout (as ``sekisho account unlock``): the failed logins stop
    counting, web, POP3, IMAP and SMTP AUTH alike."""
    with store().transaction() as session:
        found = _account(session, address)
        cleared = audit.unlock(session, found, utcnow())
        until = cleared.locked_until.isoformat() if cleared.locked_until else None
        return jsonify(address=found.address, failures_cleared=cleared.failures, locked_until=until)


@blueprint.delete("/accounts/<address>")
def delete_account(address: str) -> tuple[str, int]:
    from sekisho.maildir import remove_mailbox

    remove = request.args.get("remove_maildir") == "true"
    with store().transaction() as session:
        deleted = accounts.delete_account(session, _account(session, address).address).address
    if remove:
        remove_mailbox(settings().mail_root, deleted)
    return "", 204


@blueprint.get("/accounts/<address>/settings")
def export_settings(address: str) -> Response:
    with store().read() as session:
        return jsonify(settings_doc.export_settings(session, _account(session, address).address))


@blueprint.put("/accounts/<address>/settings")
def import_settings(address: str) -> Response:
    body = request.get_json(silent=True)
    with store().transaction() as session:
        found = _account(session, address).address
        try:
            settings_doc.import_settings(session, found, body)
        except settings_doc.SettingsImportError as error:
            session.rollback()
            raise _settings_problem(error) from error
        return jsonify(settings_doc.export_settings(session, found))


def _quarantined(row: QuarantinedMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "sender": row.sender,
        "subject": row.subject,
        "rule": row.rule,
        "entry": row.entry,
        "matched": row.matched,
        "received_at": row.received_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "released_at": row.released_at.isoformat() if row.released_at else None,
    }


@blueprint.get("/accounts/<address>/quarantine")
def list_quarantine(address: str) -> Response:
    number = request.args.get("page", "1")
    with store().read() as session:
        found = _account(session, address)
        page = quarantine_page(session, found.id, int(number) if number.isdigit() else 1)
        shown = [_quarantined(row) for row in page.entries]
    return jsonify(messages=shown, page=page.number, pages=page.pages, total=page.total)


@blueprint.post("/accounts/<address>/quarantine/<int:record_id>/release")
def release_quarantined(address: str, record_id: int) -> Response:
    with store().read() as session:
        account_id = _account(session, address).id
    outcome = quarantine_folder().release(account_id, record_id)
    if outcome is Outcome.UNKNOWN:
        raise ApiProblemError(404, "Not Found", f"No quarantined message {record_id}.")
    if outcome is Outcome.GONE:
        raise ApiProblemError(
            410, "Gone", "The copy is no longer in the spam folder (a mail program moved it)."
        )
    with store().read() as session:
        row = quarantined_one(session, account_id, record_id)
        shown = _quarantined(row) if row is not None else {"id": record_id}
    return jsonify({**shown, "outcome": outcome.value})
