"""Shared fixtures: a run folder, a real PostgreSQL, and the store on both backends."""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from sekisho.devstack.clamd import ClamdInstance
from sekisho.devstack.ports import PORT_RANGE_VARIABLE, free_port
from sekisho.devstack.postgres import PostgresInstance
from sekisho.devstack.spam import RspamdInstance
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.migrate import upgrade

# No mailbox of the test turns the virus scan on; a scan would fail loudly on this port.
CLAMD_UNUSED = "tcp://127.0.0.1:9"
pytest_plugins = ["tests.webclient", "tests.smtpsink", "tests.reporting"]
_database_numbers = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist's workers (gw0, gw1, …) start their stacks at the same time: each takes
    # its daemons' ports from its own range, below the kernel's ephemeral ports.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw"):
        first = 20000 + int(worker[2:]) * 1000
        os.environ[PORT_RANGE_VARIABLE] = f"{first}-{first + 999}"


@pytest.fixture(scope="session")
def run_root() -> Iterator[Path]:
    # Not pytest's tmp_path: its parents are 0700, and Postfix's smtpd (user postfix)
    # and the virtual delivery agent (uid 5000) must traverse to sockets and Maildirs.
    root = Path(tempfile.mkdtemp(prefix="sekisho-test-"))
    root.chmod(0o755)
    yield root
    if not os.environ.get("SEKISHO_KEEP_TEST_RUN"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(run_root: Path) -> Iterator[PostgresInstance]:
    server = PostgresInstance(run_root / "postgres", free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rspamd(run_root: Path) -> Iterator[RspamdInstance]:
    """A real rspamd (Debian's, shipped rules, offline) for every test that scans."""
    daemon = RspamdInstance(run_root / "rspamd")
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def clamd(run_root: Path) -> Iterator[ClamdInstance]:
    """A real clamd (Debian's) with the test signatures (sekisho.devstack.clamd)."""
    daemon = ClamdInstance(run_root / "clamd")
    daemon.start()
    yield daemon
    daemon.stop()


@pytest.fixture(scope="session")
def migrated_sqlite(run_root: Path) -> Path:
    """An empty store at the newest schema, copied for each test (migrating one costs 0.13 s)."""
    template = run_root / "migrated.db"
    upgrade(f"sqlite:///{template}")
    return template


@pytest.fixture(scope="session")
def migrated_postgres(postgres: PostgresInstance) -> str:
    """The name of a migrated PostgreSQL database each test's database is created from."""
    name = "migrated"
    upgrade(postgres.create_database(name))
    return name


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty store: every store test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        database = tmp_path / "sekisho.db"
        template: Path = request.getfixturevalue("migrated_sqlite")
        with (
            closing(sqlite3.connect(template)) as source,
            closing(sqlite3.connect(database)) as copy,
        ):
            source.backup(copy)
        yield f"sqlite:///{database}"
        return
    server: PostgresInstance = request.getfixturevalue("postgres")
    migrated: str = request.getfixturevalue("migrated_postgres")
    name = f"test_{next(_database_numbers)}"
    yield server.create_database(name, template=migrated)
    # Kept, a worker's 380 copies took 10-20 s to remove at the end of its run.
    server.drop_database(name)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store(database_url)
    yield opened
    opened.dispose()


@pytest.fixture
def example_domain(store: Store) -> str:
    with store.transaction() as session:
        accounts.add_domain(session, "example.jp", "ms246", "smtp.example.jp", "pop.example.jp")
    return "example.jp"
