"""``sekisho check`` against real dependencies: all reachable is exit 0; clamd stopped,
an unmigrated store or Postfix's listener missing is named with its address, exit 1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sekisho.cli import main
from sekisho.devstack.clamd import ClamdInstance
from sekisho.devstack.ports import free_port
from sekisho.devstack.postsrsd import PostsrsdInstance
from sekisho.devstack.spam import RspamdInstance
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.migrate import upgrade
from tests.imported_hashes import HASHES
from tests.smtpsink import Sink


@pytest.fixture
def environment(
    tmp_path: Path,
    rspamd: RspamdInstance,
    clamd: ClamdInstance,
    smtp_sink: Sink,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    database_url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(database_url)
    (tmp_path / "mail").mkdir()
    values = {
        "SEKISHO_DATABASE_URL": database_url,
        "SEKISHO_MAIL_ROOT": str(tmp_path / "mail"),
        "SEKISHO_CLAMD": clamd.url,
        "SEKISHO_SPAM_ENGINE": rspamd.url,
        "SEKISHO_REINJECT_SMTP": smtp_sink.address,
        "SEKISHO_SECRET_KEY": "test",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def postsrsd(tmp_path: Path) -> Iterator[PostsrsdInstance]:
    server = PostsrsdInstance(tmp_path, "example.jp")
    server.start()
    yield server
    server.stop()


def check(**environment: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check"], env=environment)
    return result.exit_code, result.output


def test_everything_reachable(environment: dict[str, str], postsrsd: PostsrsdInstance) -> None:
    code, output = check(SEKISHO_SRS_LOOKUP=postsrsd.forward_lookup)
    assert code == 0, output
    names = [line.split()[1] for line in output.splitlines() if line.startswith("ok")]
    assert names == [
        "database",
        "passwords",
        "secret_key",
        "mail_root",
        "clamd",
        "spam",
        "reinject",
        "postsrsd",
    ]


def test_clamd_stopped_is_named_with_its_address(environment: dict[str, str]) -> None:
    stopped = f"tcp://127.0.0.1:{free_port()}"
    code, output = check(SEKISHO_CLAMD=stopped)
    assert code != 0
    (line,) = [line for line in output.splitlines() if line.startswith("FAIL")]
    assert line.startswith(f"FAIL clamd      {stopped}: ")
    assert "refused" in line.lower()
    assert "1 of 7 checks failed: clamd" in output


def test_each_missing_dependency_says_what_is_wrong(
    environment: dict[str, str], tmp_path: Path
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    code, output = check(
        SEKISHO_DATABASE_URL=f"sqlite:///{tmp_path / 'new.db'}",
        SEKISHO_SPAM_ENGINE=f"spamd://{closed}",
        SEKISHO_REINJECT_SMTP=closed,
        SEKISHO_SRS_LOOKUP=closed,
        SEKISHO_MAIL_ROOT=str(tmp_path / "missing"),
    )
    assert code != 0
    failures = {line.split()[1]: line for line in output.splitlines() if line.startswith("FAIL")}
    assert set(failures) == {"database", "passwords", "mail_root", "spam", "reinject", "postsrsd"}
    assert "no store there: run `sekisho db upgrade`" in failures["database"]
    assert "not counted: the store is not usable" in failures["passwords"]
    assert not (tmp_path / "new.db").exists()  # the check created nothing
    assert "not a folder" in failures["mail_root"]
    assert closed in failures["reinject"]
    assert f"spamd {closed}" in failures["spam"]


def test_accounts_on_weak_schemes_are_counted_without_failing(
    environment: dict[str, str],
) -> None:
    store = Store(environment["SEKISHO_DATABASE_URL"])
    with store.transaction() as session:
        accounts.add_domain(session, "example.jp", "ms246", "smtp.example.jp", "pop.example.jp")
        for number in range(3):
            accounts.add_account(session, f"user{number}@example.jp", "secret123")
        for number, scheme in ((0, "SSHA"), (1, "SHA512-CRYPT")):
            accounts.require_account(session, f"user{number}@example.jp").password_hash = HASHES[
                scheme
            ]
    store.dispose()
    code, output = check()
    assert code == 0, output
    (line,) = [line for line in output.splitlines() if " passwords " in line]
    assert line == (
        "ok   passwords  accounts' password schemes: 2 accounts on a weak scheme "
        "({SHA512-CRYPT} 1, {SSHA} 1): each is replaced by ARGON2ID at its owner's next "
        "web login"
    )
