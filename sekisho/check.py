"""``sekisho check``: the configuration read, and every dependency reached, one line each.

Each check names what it reached and where, so an operator reading "FAIL clamd
tcp://127.0.0.1:3310: Connection refused" knows what to start. Only what this node's
configuration uses is checked (postsrsd only with ``srs_lookup``, the country database
only with ``geoip_db``).
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from sekisho.config import ConfigError, Settings, local_secret_key
from sekisho.milter.srs import PostsrsdLookup, SrsError
from sekisho.scanners.countries import MaxMindCountries
from sekisho.scanners.spam import SpamScanError, spam_engine
from sekisho.scanners.virus import VirusScanError, clamd_scanner
from sekisho.store.accounts import weak_password_counts
from sekisho.store.db import Store
from sekisho.store.migrate import revisions

TIMEOUT = 10.0


class CheckFailedError(Exception):
    """What is wrong, in words for the operator."""


@dataclass(frozen=True)
class Outcome:
    name: str
    target: str
    problem: str = ""  # empty: fine
    note: str = ""  # what a passed check found worth telling

    @property
    def ok(self) -> bool:
        return not self.problem

    def line(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        said = self.problem or self.note
        return f"{status} {self.name:<10} {self.target}" + (f": {said}" if said else "")


def run_checks(settings: Settings) -> list[Outcome]:
    return [_outcome(name, target, check) for name, target, check in _checks(settings)]


def _outcome(name: str, target: str, check: Callable[[], str | None]) -> Outcome:
    try:
        note = check()
    except CheckFailedError as failure:
        return Outcome(name, target, str(failure))
    return Outcome(name, target, note=note or "")


def _checks(settings: Settings) -> Iterator[tuple[str, str, Callable[[], str | None]]]:
    yield "database", _database_name(settings), lambda: _database(settings)
    yield "passwords", "accounts' password schemes", lambda: _passwords(settings)
    yield "secret_key", "web UI sessions and release links", lambda: _secret_key(settings)
    yield "mail_root", str(settings.mail_root), lambda: _mail_root(settings)
    yield "clamd", settings.clamd, lambda: _clamd(settings)
    yield "spam", settings.spam_engine, lambda: _spam(settings)
    yield "reinject", settings.reinject_smtp, lambda: _reinject(settings)
    if settings.srs_lookup:
        yield "postsrsd", settings.srs_lookup, lambda: _postsrsd(settings)
    if settings.geoip_db:
        yield "geoip_db", settings.geoip_db, lambda: _geoip(settings)


def _database_name(settings: Settings) -> str:
    try:
        return make_url(settings.database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return settings.database_url.partition("@")[2] or "(unreadable URL)"


def _database(settings: Settings) -> None:
    try:
        url = make_url(settings.database_url)
    except ArgumentError as error:
        raise CheckFailedError(str(error)) from error
    # Connecting would create an empty SQLite file (as this user, perhaps root).
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise CheckFailedError("no store there: run `sekisho db upgrade`")
    try:
        store = Store(settings.database_url)
    except (SQLAlchemyError, ValueError) as error:
        raise CheckFailedError(str(error).splitlines()[0]) from error
    try:
        current, head = revisions(store.engine)
    except SQLAlchemyError as error:
        raise CheckFailedError(str(error).splitlines()[0]) from error
    finally:
        store.dispose()
    if current != head:
        raise CheckFailedError(
            f"schema at revision {current or 'none'}, this version needs {head}: "
            "run `sekisho db upgrade`"
        )


def _passwords(settings: Settings) -> str:
    """Not a failure: imported hashes in older schemes are replaced one by one as their
    owners log in to the web UI; the count tells how far that has come."""
    try:
        _database(settings)
    except CheckFailedError as failure:
        raise CheckFailedError("not counted: the store is not usable (see database)") from failure
    store = Store(settings.database_url)
    try:
        with store.read() as session:
            counts = weak_password_counts(session)
    except SQLAlchemyError as error:
        raise CheckFailedError(str(error).splitlines()[0]) from error
    finally:
        store.dispose()
    weak = sum(counts.values())
    if not weak:
        return "every account on ARGON2ID"
    schemes = ", ".join(
        f"{{{name}}} {count}" if name else f"unknown {count}"
        for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    )
    return (
        f"{weak} accounts on a weak scheme ({schemes}): "
        "each is replaced by ARGON2ID at its owner's next web login"
    )


def _secret_key(settings: Settings) -> None:
    try:
        local_secret_key(settings)
    except (ConfigError, OSError) as error:
        raise CheckFailedError(str(error)) from error


def _mail_root(settings: Settings) -> None:
    root = settings.mail_root
    if not root.is_dir():
        raise CheckFailedError("not a folder")
    if not os.access(root, os.W_OK | os.X_OK):
        raise CheckFailedError("not writable by this user (the milter and web UI write here)")


def _clamd(settings: Settings) -> None:
    try:
        clamd_scanner(settings.clamd, TIMEOUT).ping()
    except (ValueError, VirusScanError) as error:
        raise CheckFailedError(str(error)) from error


def _spam(settings: Settings) -> None:
    try:
        spam_engine(settings.spam_engine, TIMEOUT).ping()
    except (ValueError, SpamScanError) as error:
        raise CheckFailedError(str(error)) from error


def _reinject(settings: Settings) -> None:
    host, _, port = settings.reinject_smtp.rpartition(":")
    try:
        with smtplib.SMTP(host, int(port), timeout=TIMEOUT) as connection:
            code, answer = connection.ehlo()
    except (OSError, ValueError, smtplib.SMTPException) as error:
        raise CheckFailedError(str(error) or type(error).__name__) from error
    if code != 250:
        raise CheckFailedError(f"EHLO answered {code} {answer.decode(errors='replace')}")


def _postsrsd(settings: Settings) -> None:
    try:
        PostsrsdLookup(settings.srs_lookup, TIMEOUT).forward("sekisho-check@example.com")
    except (SrsError, ValueError) as error:
        raise CheckFailedError(str(error)) from error


def _geoip(settings: Settings) -> None:
    try:
        MaxMindCountries(settings.geoip_db).country("192.0.2.1")
    except (OSError, ValueError, RuntimeError) as error:  # InvalidDatabaseError: RuntimeError
        raise CheckFailedError(str(error)) from error
