"""The OpenAPI 3.1 description of /api/v1/ (served at /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

_ADDRESS = {"name": "address", "in": "path", "required": True, "schema": {"type": "string"}}
_PROBLEM = {"$ref": "#/components/responses/Problem"}
_ERRORS = {"401": _PROBLEM, "404": _PROBLEM, "429": _PROBLEM}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _answer(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": _json(schema)}


def document() -> dict[str, Any]:
    account = "/accounts/{address}"
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sekisho provisioning API",
            "version": "1",
            "description": "Accounts, their settings and their quarantine for an ISP's "
            "customer system. Errors are RFC 9457 problem details.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/accounts": {
                "post": {
                    "summary": "Add an account (the earlier server's password hash, or a password)",
                    "requestBody": {"required": True, "content": _json("NewAccount")},
                    "responses": {
                        "201": _answer("Added", "Account"),
                        "403": _PROBLEM,
                        "409": _PROBLEM,
                        "422": _PROBLEM,
                        **_ERRORS,
                    },
                },
                "get": {
                    "summary": "Accounts by address, 50 a page",
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"type": "string"}},
                        {"name": "page", "in": "query", "schema": {"type": "integer"}},
                    ],
                    "responses": {"200": _answer("A page", "AccountPage"), **_ERRORS},
                },
            },
            account: {
                "parameters": [_ADDRESS],
                "get": {"responses": {"200": _answer("The account", "Account"), **_ERRORS}},
                "patch": {
                    "summary": "Suspend or resume",
                    "requestBody": {"required": True, "content": _json("StatusChange")},
                    "responses": {
                        "200": _answer("Changed", "Account"),
                        "422": _PROBLEM,
                        **_ERRORS,
                    },
                },
                "delete": {
                    "summary": "Delete with its settings, quarantine and outbox rows",
                    "parameters": [
                        {"name": "remove_maildir", "in": "query", "schema": {"type": "boolean"}}
                    ],
                    "responses": {"204": {"description": "Deleted"}, **_ERRORS},
                },
            },
            account + "/settings": {
                "parameters": [_ADDRESS],
                "get": {"responses": {"200": _answer("The document", "Settings"), **_ERRORS}},
                "put": {
                    "summary": "Replace the settings given (as `sekisho settings import`)",
                    "requestBody": {"required": True, "content": _json("Settings")},
                    "responses": {
                        "200": _answer("The document now", "Settings"),
                        "422": _PROBLEM,
                        **_ERRORS,
                    },
                },
            },
            account + "/quarantine": {
                "parameters": [_ADDRESS],
                "get": {
                    "parameters": [{"name": "page", "in": "query", "schema": {"type": "integer"}}],
                    "responses": {"200": _answer("A page", "QuarantinePage"), **_ERRORS},
                },
            },
            account + "/password-reset": {
                "parameters": [_ADDRESS],
                "post": {
                    "summary": "A new temporary password for a customer who lost theirs "
                    "(answered once; the next login changes it first)",
                    "responses": {
                        "200": _answer("The temporary password", "PasswordReset"),
                        **_ERRORS,
                    },
                },
            },
            account + "/unlock": {
                "parameters": [_ADDRESS],
                "post": {
                    "summary": "Clear the login lockout (web, POP3, IMAP, SMTP AUTH): the "
                    "failed logins stop counting, as after a good login",
                    "responses": {"200": _answer("What was cleared", "Unlock"), **_ERRORS},
                },
            },
            account + "/quarantine/{id}/release": {
                "parameters": [
                    _ADDRESS,
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                ],
                "post": {
                    "summary": "Move the copy into the inbox",
                    "responses": {
                        "200": _answer("Released", "Quarantined"),
                        "410": _PROBLEM,
                        **_ERRORS,
                    },
                },
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem details",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                }
            },
            "schemas": _schemas(),
        },
    }


def _schemas() -> dict[str, Any]:
    text = {"type": "string"}
    return {
        "Problem": {
            "type": "object",
            "properties": {
                "type": text,
                "title": text,
                "status": {"type": "integer"},
                "detail": text,
                "errors": {"type": "array", "items": text},
            },
        },
        "NewAccount": {
            "type": "object",
            "required": ["address"],
            "properties": {
                "address": text,
                "password": text,
                "password_hash": {
                    "type": "string",
                    "description": "{ARGON2ID}, {SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT}, "
                    "{MD5-CRYPT}, {SSHA512}, {SSHA}, {CRYPT} or {PLAIN-MD5}",
                },
                "status": {"enum": ["active", "suspended"]},
                "settings": {"$ref": "#/components/schemas/Settings"},
            },
        },
        "PasswordReset": {
            "type": "object",
            "properties": {"address": text, "temporary_password": text},
        },
        "Unlock": {
            "type": "object",
            "properties": {
                "address": text,
                "failures_cleared": {"type": "integer"},
                "locked_until": {
                    "type": ["string", "null"],
                    "format": "date-time",
                    "description": "When the lockout would have ended; null: it was not locked",
                },
            },
        },
        "Account": {
            "type": "object",
            "properties": {
                "address": text,
                "domain": text,
                "status": {"enum": ["active", "suspended"]},
                "password_scheme": text,
                "must_change_password": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time"},
            },
        },
        "AccountPage": _page("accounts", "Account"),
        "StatusChange": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"enum": ["active", "suspended"]}},
        },
        "Settings": {
            "type": "object",
            "description": "The document of `sekisho settings export`",
        },
        "Quarantined": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "sender": text,
                "subject": text,
                "rule": text,
                "entry": text,
                "matched": text,
                "received_at": text,
                "expires_at": text,
                "released_at": {"type": ["string", "null"]},
            },
        },
        "QuarantinePage": _page("messages", "Quarantined"),
    }


def _page(name: str, schema: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            name: {"type": "array", "items": {"$ref": f"#/components/schemas/{schema}"}},
            "page": {"type": "integer"},
            "pages": {"type": "integer"},
            "total": {"type": "integer"},
        },
    }
