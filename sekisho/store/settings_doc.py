"""The settings document of ``sekisho settings export|import`` (DESIGN.md contract).

Import is all or nothing: every entry is checked with the UI's validators (without the
form's 20-lines limit) and nothing is written when one fails. Keys left out keep their
current value; keys of the contract that this version does not implement yet are
refused by name rather than silently ignored.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from sekisho.rules.problems import N_, Problem
from sekisho.rules.validate import check_address_entries
from sekisho.store.accounts import require_account
from sekisho.store.reject_lists import reject_from_values, replace_reject_from

IMPLEMENTED_KEYS = frozenset({"reject_from"})
CONTRACT_KEYS = frozenset(
    {
        "forwarding",
        "reject_from",
        "reject_subject",
        "reject_header",
        "allow_from",
        "auto_reply",
        "virus_scan",
        "spam_scan",
        "abroad_send_unlocked_until",
    }
)


class SettingsImportError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.render() for p in problems))
        self.problems = problems


def export_settings(session: Session, address: str) -> dict[str, Any]:
    account = require_account(session, address)
    return {"reject_from": reject_from_values(session, account.id)}


def _problems_of(document: object) -> tuple[list[Problem], dict[str, list[str]]]:
    if not isinstance(document, dict):
        return [Problem(N_("The settings document must be a JSON object."))], {}
    problems: list[Problem] = []
    for key in sorted(set(document) - CONTRACT_KEYS):
        problems.append(Problem(N_("Unknown key “{entry}”."), entry=key))
    for key in sorted((set(document) & CONTRACT_KEYS) - IMPLEMENTED_KEYS):
        problems.append(Problem(N_("Key “{entry}” is not supported by this version."), entry=key))
    lists: dict[str, list[str]] = {}
    if "reject_from" in document:
        value = document["reject_from"]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(
                Problem(N_("“{entry}” must be a list of strings."), entry="reject_from")
            )
        else:
            check = check_address_entries(value, max_lines=None)
            if value and not check.ok:
                problems.extend(check.problems)
            lists["reject_from"] = list(check.entries)
    return problems, lists


def import_settings(session: Session, address: str, document: object) -> None:
    account = require_account(session, address)
    problems, lists = _problems_of(document)
    if problems:
        raise SettingsImportError(problems)
    if "reject_from" in lists:
        replace_reject_from(session, account.id, lists["reject_from"])
