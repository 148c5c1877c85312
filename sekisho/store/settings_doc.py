"""The settings document of ``sekisho settings export|import`` (DESIGN.md contract).

Import is all or nothing: every entry is checked with the UI's validators (without the
form's 20-lines limit) and nothing is written when one fails. Keys left out keep their
current value, also inside ``reject_header`` and ``spam_scan``; a list given replaces the
list (entries kept keep their hit counters).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from sekisho.rules.abroad import UNLOCK_PERIOD
from sekisho.rules.addresses import normalize_address
from sekisho.rules.auto_reply import SenderText, check_auto_reply, cleaned
from sekisho.rules.forwarding import ForwardTarget, check_target
from sekisho.rules.lists import LIST_KINDS
from sekisho.rules.model import HeaderCheck, SpamSetting
from sekisho.rules.problems import N_, Problem
from sekisho.rules.validate import ListEntry
from sekisho.store.abroad import set_unlocked_until, unlocked_until
from sekisho.store.accounts import require_account
from sekisho.store.audit import ChangeDetail, ChangeKind, record_change
from sekisho.store.auto_reply import auto_reply, set_auto_reply
from sekisho.store.forwarding import forward_targets, replace_targets
from sekisho.store.header_rules import header_checks, set_header_checks
from sekisho.store.lists import replace_entries, values
from sekisho.store.models import utcnow
from sekisho.store.spam_settings import set_spam_setting, spam_setting
from sekisho.store.virus_settings import set_virus_scan, virus_scan_enabled

REJECT_HEADER = "reject_header"
SPAM_SCAN = "spam_scan"
SPAM_SWITCHES = ("enabled", "quarantine", "notify")
VIRUS_SCAN = "virus_scan"
ABROAD = "abroad_send_unlocked_until"
FORWARDING = "forwarding"
AUTO_REPLY = "auto_reply"
# The contract's keys, and the date range this version adds (beyond the guide).
AUTO_REPLY_KEYS = frozenset({"enabled", "message", "per_sender", "starts_on", "ends_on"})
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
    document: dict[str, Any] = {
        name: values(session, account.id, kind) for name, kind in LIST_KINDS.items()
    }
    checks = header_checks(session, account.id)
    document[REJECT_HEADER] = {check.value: check in checks for check in HeaderCheck}
    document[SPAM_SCAN] = asdict(spam_setting(session, account.id))
    document[VIRUS_SCAN] = virus_scan_enabled(session, account.id)
    document[FORWARDING] = [
        {"to": target.address, "keep": target.keep}
        for target in forward_targets(session, account.id)
    ]
    reply = auto_reply(session, account.id)
    document[AUTO_REPLY] = {
        "enabled": reply.enabled,
        "message": reply.message,
        "per_sender": [
            {"sender": entry.pattern, "message": entry.message} for entry in reply.per_sender
        ],
        "starts_on": reply.starts_on.isoformat() if reply.starts_on else None,
        "ends_on": reply.ends_on.isoformat() if reply.ends_on else None,
    }
    until = unlocked_until(session, account.id)
    document[ABROAD] = until.isoformat() if until is not None else None
    return document


class _Parsed:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.lists: dict[str, list[ListEntry]] = {}
        self.header: dict[HeaderCheck, bool] = {}
        self.spam: dict[str, bool] = {}
        self.virus: bool | None = None
        self.abroad: tuple[datetime | None] | None = None  # (value,) when given
        self.forwarding: list[ForwardTarget] | None = None
        self.auto_reply: dict[str, Any] | None = None


def _forwarding(given: object, mailbox: str, problems: list[Problem]) -> list[ForwardTarget]:
    """A list of {"to": address, "keep": true|false}, each checked like the form."""
    entries = given if isinstance(given, list) else None
    shaped = entries is not None and all(
        isinstance(entry, dict)
        and set(entry) == {"to", "keep"}
        and isinstance(entry["to"], str)
        and isinstance(entry["keep"], bool)
        for entry in entries
    )
    if entries is None or not shaped:
        problems.append(
            Problem(
                N_('“{entry}” must be a list of {{"to": address, "keep": true|false}}.'),
                entry=FORWARDING,
            )
        )
        return []
    accepted: list[ForwardTarget] = []
    for entry in entries:
        found = check_target(entry["to"], mailbox, [target.address for target in accepted])
        if found:
            problems.extend(found)
            continue
        accepted.append(ForwardTarget(normalize_address(entry["to"]), entry["keep"]))
    return accepted


def _auto_reply(given: object, problems: list[Problem]) -> dict[str, Any] | None:
    """The keys given of {enabled, message, per_sender: [{sender, message}], starts_on,
    ends_on}; checked as a whole with the stored setting by ``import_settings``."""
    if not isinstance(given, dict):
        problems.append(Problem(N_("“{entry}” must be an object."), entry=AUTO_REPLY))
        return None
    for key in sorted(set(given) - AUTO_REPLY_KEYS):
        problems.append(Problem(N_("Unknown key “{entry}”."), entry=f"{AUTO_REPLY}.{key}"))
    shaped: dict[str, Any] = {}
    for key, kind, wrong in (
        ("enabled", bool, N_("“{entry}” must be true or false.")),
        ("message", str, N_("“{entry}” must be a string.")),
    ):
        if key not in given:
            continue
        if isinstance(given[key], kind):
            shaped[key] = given[key]
        else:
            problems.append(Problem(wrong, entry=f"{AUTO_REPLY}.{key}"))
    if "per_sender" in given:
        entries = given["per_sender"]
        if isinstance(entries, list) and all(
            isinstance(entry, dict)
            and set(entry) == {"sender", "message"}
            and all(isinstance(value, str) for value in entry.values())
            for entry in entries
        ):
            shaped["per_sender"] = tuple(
                SenderText(entry["sender"], entry["message"]) for entry in entries
            )
        else:
            problems.append(
                Problem(
                    N_('“{entry}” must be a list of {{"sender": pattern, "message": text}}.'),
                    entry=f"{AUTO_REPLY}.per_sender",
                )
            )
    for key in ("starts_on", "ends_on"):
        if key not in given:
            continue
        value = given[key]
        try:
            shaped[key] = None if value is None else date.fromisoformat(value)
        except (TypeError, ValueError):
            problems.append(
                Problem(
                    N_("“{entry}” must be a date (YYYY-MM-DD) or null."),
                    entry=f"{AUTO_REPLY}.{key}",
                )
            )
    return shaped


def _parse(document: object, mailbox: str, now: datetime) -> _Parsed:
    parsed = _Parsed()
    if not isinstance(document, dict):
        parsed.problems.append(Problem(N_("The settings document must be a JSON object.")))
        return parsed
    for key in sorted(set(document) - CONTRACT_KEYS):
        parsed.problems.append(Problem(N_("Unknown key “{entry}”."), entry=key))
    for name, kind in LIST_KINDS.items():
        if name not in document:
            continue
        given = document[name]
        if not isinstance(given, list) or not all(isinstance(v, str) for v in given):
            parsed.problems.append(Problem(N_("“{entry}” must be a list of strings."), entry=name))
            continue
        check = kind.check_entries(given, max_lines=None)
        if given and not check.ok:
            parsed.problems.extend(check.problems)
        parsed.lists[name] = list(check.entries)
    if REJECT_HEADER in document:
        parsed.header = _header_checks(document[REJECT_HEADER], parsed.problems)
    if SPAM_SCAN in document:
        parsed.spam = _switches(SPAM_SCAN, SPAM_SWITCHES, document[SPAM_SCAN], parsed.problems)
    if FORWARDING in document:
        parsed.forwarding = _forwarding(document[FORWARDING], mailbox, parsed.problems)
    if AUTO_REPLY in document:
        parsed.auto_reply = _auto_reply(document[AUTO_REPLY], parsed.problems)
    if ABROAD in document:
        parsed.abroad = _unlock_time(document[ABROAD], now, parsed.problems)
    if VIRUS_SCAN in document:
        if isinstance(document[VIRUS_SCAN], bool):
            parsed.virus = document[VIRUS_SCAN]
        else:
            parsed.problems.append(
                Problem(N_("“{entry}” must be true or false."), entry=VIRUS_SCAN)
            )
    return parsed


def _switches(
    name: str, known: tuple[str, ...], given: object, problems: list[Problem]
) -> dict[str, bool]:
    """An object of true/false switches; unknown switches are refused by name."""
    if not isinstance(given, dict) or not all(isinstance(v, bool) for v in given.values()):
        problems.append(
            Problem(N_("“{entry}” must be an object of true/false values."), entry=name)
        )
        return {}
    for key in sorted(set(given) - set(known)):
        problems.append(Problem(N_("Unknown key “{entry}”."), entry=f"{name}.{key}"))
    return {key: on for key, on in given.items() if key in known}


def _unlock_time(
    given: object, now: datetime, problems: list[Problem]
) -> tuple[datetime | None] | None:
    """An ISO 8601 date and time with its offset at most a week ahead (docs/features.md §10: the
    restriction is lifted for one week at a time), or null (制限中). An earlier time is
    taken: it means 制限中 too, and a document exported a while ago imports again."""
    if given is None:
        return (None,)
    if isinstance(given, str):
        try:
            moment = datetime.fromisoformat(given)
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            if moment > now + UNLOCK_PERIOD:
                problems.append(
                    Problem(
                        N_(
                            "“{entry}” is more than {days} days ahead: the restriction is "
                            "lifted for one week at a time."
                        ),
                        entry=ABROAD,
                        params={"days": UNLOCK_PERIOD.days},
                    )
                )
                return None
            return (moment.astimezone(UTC),)
    problems.append(
        Problem(
            N_("“{entry}” must be an ISO 8601 date and time with its offset, or null."),
            entry=ABROAD,
        )
    )
    return None


def _header_checks(given: object, problems: list[Problem]) -> dict[HeaderCheck, bool]:
    names = tuple(check.value for check in HeaderCheck)
    switches = _switches(REJECT_HEADER, names, given, problems)
    return {HeaderCheck(key): on for key, on in switches.items()}


def import_settings(session: Session, address: str, document: object) -> None:
    account = require_account(session, address)
    now = utcnow()
    parsed = _parse(document, account.address, now)
    reply = None
    if parsed.auto_reply is not None:
        reply = replace(auto_reply(session, account.id), **parsed.auto_reply)
        parsed.problems.extend(check_auto_reply(reply))
    if parsed.problems:
        raise SettingsImportError(parsed.problems)
    # Parsed without problems, so a dict of contract keys: the sections it replaced.
    given = tuple(sorted(document)) if isinstance(document, dict) else ()
    detail = ChangeDetail(ChangeKind.IMPORTED, given)
    record_change(session, account.id, "settings_import", "operator", now, detail)
    for name, entries in parsed.lists.items():
        replace_entries(session, account.id, LIST_KINDS[name], entries)
    if parsed.header:
        current = header_checks(session, account.id)
        turned_on = {check for check, on in parsed.header.items() if on}
        set_header_checks(session, account.id, (current - set(parsed.header)) | turned_on)
    if parsed.spam:
        merged = {**asdict(spam_setting(session, account.id)), **parsed.spam}
        set_spam_setting(session, account.id, SpamSetting(**merged))
    if parsed.virus is not None:
        set_virus_scan(session, account.id, parsed.virus)
    if parsed.abroad is not None:
        set_unlocked_until(session, account.id, parsed.abroad[0])
    if parsed.forwarding is not None:
        replace_targets(session, account.id, parsed.forwarding)
    if reply is not None:
        set_auto_reply(session, account.id, cleaned(reply))
