"""Many accounts at once from an ISP's customer system (``sekisho account import``, and
``POST /api/v1/accounts`` for one): each record an address, a password hash from the
earlier POP server (any scheme of sekisho.store.passwords) or a password in clear, a
status and optionally a settings document as ``sekisho settings export`` prints it.

All or nothing: every record is checked, each problem is reported with its line, and
nothing is written while one remains. Rows go in with one multi-row INSERT per batch, so
a hash costs nothing worth counting; a password in clear costs an Argon2 hash (64 MiB,
about a quarter of a second on two cores: 100,000 of them take hours, so import hashes).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sekisho.rules.addresses import normalize_address, split_address
from sekisho.rules.passwords import LONGEST_CHECKED
from sekisho.store import settings_doc
from sekisho.store.accounts import serving_names
from sekisho.store.models import Account, Domain, utcnow
from sekisho.store.passwords import DECOY_HASH, HashError, check_hash, hash_password

FIELDS = ("address", "password_hash", "password", "status", "settings")
STATUSES = ("active", "suspended")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_BATCH = 5_000
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class LineProblem:
    line: int
    message: str

    def render(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class AccountImportError(ValueError):
    def __init__(self, problems: list[LineProblem]) -> None:
        super().__init__("; ".join(problem.render() for problem in problems[:3]))
        self.problems = problems


@dataclass(frozen=True)
class ImportSummary:
    accounts: int
    hashed_here: int  # passwords given in clear
    with_settings: int
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class _Row:
    line: int
    address: str
    domain_id: int
    password_hash: str | None
    password: str | None
    status: str
    settings: dict[str, Any] | None


def file_format(path: Path, given: str | None) -> str:
    """``csv`` or ``jsonl``: as given, else by the file's extension."""
    chosen = given or FORMATS.get(path.suffix.lower())
    if chosen is None:
        raise AccountImportError(
            [LineProblem(0, f"cannot tell the format of {path.name}: use --format csv|jsonl")]
        )
    return chosen


def read_records(source: TextIO, file_kind: str) -> Iterator[tuple[int, object]]:
    """(line number, record) of a CSV file with a header line or of JSON Lines."""
    if file_kind == "csv":
        yield from _csv_records(source)
        return
    for number, text in enumerate(source, start=1):
        if not text.strip():
            continue
        try:
            yield number, json.loads(text)
        except json.JSONDecodeError as error:
            yield number, f"not JSON: {error.msg}"


def _csv_records(source: TextIO) -> Iterator[tuple[int, object]]:
    reader = csv.DictReader(source, restkey="\0extra")
    unknown = [name for name in reader.fieldnames or () if name not in FIELDS]
    if unknown:
        yield 1, f"unknown columns {', '.join(unknown)}; the columns are {', '.join(FIELDS)}"
        return
    for record in reader:
        if "\0extra" in record:
            yield reader.line_num, "more values than the header has columns"
            continue
        # A CSV cell holds the settings document as JSON text; an empty cell: none.
        text = record.pop("settings", None) or ""
        cleaned: dict[str, object] = {key: value for key, value in record.items() if value}
        if text.strip():
            try:
                cleaned["settings"] = json.loads(text)
            except json.JSONDecodeError as error:
                yield reader.line_num, f"settings: not JSON: {error.msg}"
                continue
        yield reader.line_num, cleaned


class _Checker:
    """The checks of one record against the store's domains and the file's earlier lines."""

    def __init__(self, session: Session) -> None:
        self.domains: dict[str, int] = dict(session.execute(select(Domain.name, Domain.id)).all())
        self.seen: dict[str, int] = {}
        self.problems: list[LineProblem] = []

    def row(self, line: int, record: object) -> _Row | None:
        if isinstance(record, str):  # the reader's own complaint
            self._refuse(line, record)
            return None
        if not isinstance(record, dict):
            self._refuse(line, "a record must be an object of " + ", ".join(FIELDS))
            return None
        unknown = sorted(set(record) - set(FIELDS))
        if unknown:
            self._refuse(line, f"unknown fields {', '.join(unknown)}")
            return None
        address = self._address(line, record.get("address"))
        secret = self._secret(line, record.get("password_hash"), record.get("password"))
        status = record.get("status") or "active"
        if status not in STATUSES:
            self._refuse(line, f"status {status!r} is not one of {', '.join(STATUSES)}")
        given = record.get("settings")
        document = given is None or isinstance(given, dict)
        if not document:
            self._refuse(line, "settings must be a settings document (a JSON object)")
        if address is None or secret is None or status not in STATUSES or not document:
            return None
        password_hash, password = secret
        return _Row(line, address[0], address[1], password_hash, password, status, given)

    def _address(self, line: int, given: object) -> tuple[str, int] | None:
        if not isinstance(given, str) or not given.strip():
            self._refuse(line, "address is missing")
            return None
        address = normalize_address(given)
        local, domain_name = split_address(address)
        if not local or not domain_name or len(address) > 320:
            self._refuse(line, f"{given!r} is not a mail address")
            return None
        domain_id = next(
            (self.domains[n] for n in serving_names(domain_name) if n in self.domains), None
        )
        if domain_id is None:
            self._refuse(line, f"no domain serves {address}; add it with 'domain add'")
            return None
        if address in self.seen:
            self._refuse(line, f"{address} is on line {self.seen[address]} already")
            return None
        self.seen[address] = line
        return address, domain_id

    def _secret(
        self, line: int, password_hash: object, password: object
    ) -> tuple[str | None, str | None] | None:
        if (password_hash is None) == (password is None):
            self._refuse(line, "give either password_hash or password")
            return None
        if password_hash is not None:
            if not isinstance(password_hash, str):
                self._refuse(line, "password_hash must be a string")
                return None
            try:
                return check_hash(password_hash.strip()), None
            except HashError as error:
                self._refuse(line, f"password_hash: {error}")
                return None
        if not isinstance(password, str) or not 1 <= len(password) <= LONGEST_CHECKED:
            self._refuse(line, f"password must be 1 to {LONGEST_CHECKED} characters")
            return None
        return None, password

    def _refuse(self, line: int, message: str) -> None:
        self.problems.append(LineProblem(line, message))

    def refuse_existing(self, session: Session) -> set[str]:
        """The file's addresses that have an account already, each refused on its line."""
        addresses = list(self.seen)
        existing: set[str] = set()
        for start in range(0, len(addresses), _LOOKUP_CHUNK):
            chunk = addresses[start : start + _LOOKUP_CHUNK]
            existing.update(
                session.scalars(select(Account.address).where(Account.address.in_(chunk)))
            )
        for address in existing:
            self._refuse(self.seen[address], f"account {address} exists already")
        return existing


def import_accounts(
    session: Session, records: Iterable[tuple[int, object]], *, hash_passwords: bool = True
) -> ImportSummary:
    """Check every record, then add them all; AccountImportError lists every problem.

    The caller's transaction makes it all or nothing: it must roll back on the error. A
    dry run reads in a transaction it never commits, with ``hash_passwords=False`` (the
    placeholder hash is never kept).
    """
    checker = _Checker(session)
    rows = [row for line, record in records if (row := checker.row(line, record)) is not None]
    existing = checker.refuse_existing(session)
    rows = [row for row in rows if row.address not in existing]
    # The good rows go in even when others failed, so their settings documents are
    # checked too and one run reports every problem; the rollback takes them out again.
    problems = checker.problems
    hash_passwords = hash_passwords and not problems
    clear = [row.password for row in rows if row.password is not None]
    hashed = iter([hash_password(p) if hash_passwords else DECOY_HASH for p in clear])
    now = utcnow()
    values = [
        {
            "address": row.address,
            "domain_id": row.domain_id,
            "password_hash": row.password_hash or next(hashed),
            "status": row.status,
            # The customer keeps the password of the earlier server, or the one the ISP
            # gave: no forced change at the first login.
            "must_change_password": False,
            "settings_version": 1,
            "session_epoch": 0,
            "created_at": now,
        }
        for row in rows
    ]
    for start in range(0, len(values), _BATCH):
        session.execute(insert(Account), values[start : start + _BATCH])
    for row in rows:
        if row.settings is None:
            continue
        try:
            settings_doc.import_settings(session, row.address, row.settings)
        except settings_doc.SettingsImportError as error:
            problems.extend(
                LineProblem(row.line, "settings: " + problem.render()) for problem in error.problems
            )
    if problems:
        raise AccountImportError(sorted(problems, key=lambda problem: problem.line))
    return ImportSummary(
        accounts=len(rows),
        hashed_here=len(clear),
        with_settings=sum(row.settings is not None for row in rows),
        addresses=tuple(row.address for row in rows),
    )
