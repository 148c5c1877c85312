"""How the list screens and the milter's policy load behave with very long lists.

Lists have no total limit (docs/features.md §5). This seeds one mailbox's From list with N entries
(100 and 100,000 by default) in a fresh store, on SQLite and on PostgreSQL (a private
server from sekisho.devstack, or ``--database-url``), and times, through Flask's test
client and the store: the first and the last list page, searches (an entry's beginning,
the domain many entries end with, one whole entry, a text nothing has; the last two also
as the store's page_of alone), the 「次へ」 of a
20-line submission (checked against the whole list), a delete of 2 entries, the CSV
download, and ``load_policy`` (what a milter does when the settings version changed). It
prints the median (p50) and the 95th percentile of ``--rounds`` for each size.

    .venv/bin/python bench/list_pages.py [--sizes 100 100000] [--rounds 20]
        [--backends sqlite postgresql] [--database-url URL]
"""

from __future__ import annotations

import argparse
import math
import re
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import text

from sekisho.config import load_settings
from sekisho.devstack.ports import free_port
from sekisho.devstack.postgres import PostgresInstance
from sekisho.rules.lists import REJECT_FROM
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.lists import add_entries, page_of
from sekisho.store.migrate import upgrade
from sekisho.store.policies import load_policy
from sekisho.webui import create_app

ADDRESS = "taro@example.jp"
PASSWORD = "bench-password"  # noqa: S105 -- a throwaway account in a temporary store


def seeded_store(url: str, size: int) -> Store:
    upgrade(url)
    store = Store(url)
    with store.transaction() as session:
        accounts.add_domain(session, "example.jp", "bench", "smtp.example.jp", "pop.example.jp")
        accounts.add_account(session, ADDRESS, PASSWORD)
        account_id = accounts.require_account(session, ADDRESS).id
        texts = [f"spam{i}.bulk{i % 97}.example" for i in range(size)]
        add_entries(
            session,
            account_id,
            REJECT_FROM,
            REJECT_FROM.check_entries(texts, max_lines=None).entries,
        )
    if store.engine.dialect.name == "postgresql":
        # A store in use is vacuumed and analyzed (autovacuum, within a minute of a large
        # change); the fresh 100,000 rows without statistics are planned as a scan (list
        # page 110 ms, a search 150 ms, page_of 95 ms).
        with store.engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            autocommit.execute(text("VACUUM ANALYZE list_entries"))
    return store


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def logged_in(store: Store) -> FlaskClient:
    settings = load_settings(
        environ={"SEKISHO_SECRET_KEY": "bench", "SEKISHO_DATABASE_URL": store.database_url}
    )
    client = create_app(settings, store).test_client()
    page = client.get("/login").get_data(as_text=True)
    client.post("/login", data={"address": ADDRESS, "password": PASSWORD, "csrf_token": csrf(page)})
    return client


def timed(work: Callable[[], object], rounds: int) -> list[float]:
    """Milliseconds of ``rounds`` calls after one untimed warm-up."""
    work()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def percentile(samples: list[float], share: float) -> float:
    """The nearest-rank percentile: the value ``share`` of the samples are at or below."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(store: Store, size: int, rounds: int) -> dict[str, list[float]]:
    client = logged_in(store)
    last_page = max(1, -(-size // 50))

    def ok(url: str) -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    def submit() -> None:
        form = client.get("/reject/from/new").get_data(as_text=True)
        text = "\n".join(f"new{i}.example" for i in range(19)) + "\nspam1.bulk1.example"
        page = client.post("/reject/from/new", data={"entries": text, "csrf_token": csrf(form)})
        assert "spam1.bulk1.example" in page.get_data(as_text=True)

    def delete_two() -> None:
        listing = client.get("/reject/from/").get_data(as_text=True)
        ids = re.findall(r'name="entry" value="(\d+)"', listing)[:2]
        confirm = client.post(
            "/reject/from/delete", data={"entry": ids, "csrf_token": csrf(listing)}
        )
        text = confirm.get_data(as_text=True)
        token = re.search(r'id="token" name="token" type="hidden" value="([^"]+)"', text)
        assert token, text[:500]
        client.post(
            "/reject/from/delete/confirm", data={"token": token.group(1), "csrf_token": csrf(text)}
        )

    def found(search: str, count: int) -> Callable[[], None]:
        """Search, and check the page lists the entries the search should find."""

        def work() -> None:
            text = client.get(f"/reject/from/?q={search}").get_data(as_text=True)
            assert text.count('name="entry" value=') == min(count, 50), search

        return work

    def store_search(search: str) -> Callable[[], None]:
        def work() -> None:
            with store.read() as session:
                account_id = accounts.require_account(session, ADDRESS).id
                page_of(session, account_id, REJECT_FROM, search=search)

        return work

    last = size - 1
    beginning = f"spam{last // 10}"  # spam9999: itself and spam99990 … spam99999
    begins = sum(1 for i in range(size) if f"spam{i}.".startswith(beginning))
    return {
        "list page 1": timed(lambda: ok("/reject/from/"), rounds),
        "last page": timed(lambda: ok(f"/reject/from/?page={last_page}"), rounds),
        "search begins": timed(found(beginning, begins), rounds),
        "search ends": timed(found("bulk42.example", len(range(42, size, 97))), rounds),
        "search 1 entry": timed(found(f"spam{last}.bulk{last % 97}.example", 1), rounds),
        "search nothing": timed(found("nothing.example", 0), rounds),
        # The store's part of a search alone (page_of): without the page around it.
        "page_of 1 entry": timed(store_search(f"spam{last}.bulk{last % 97}.example"), rounds),
        "page_of nothing": timed(store_search("nothing.example"), rounds),
        "次へ (20 lines)": timed(submit, rounds),
        "delete 2": timed(delete_two, rounds),
        "CSV download": timed(lambda: ok("/reject/from/export.csv"), rounds),
        "load_policy": timed(lambda: load_policy(store, ADDRESS), rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 100_000])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument(
        "--backends", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--database-url", help="an empty PostgreSQL database instead of a private server"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, ExitStack() as servers:
        for backend in options.backends:
            urls = database_urls(backend, Path(folder), options, servers)
            results: dict[int, dict[str, list[float]]] = {}
            for size, url in zip(options.sizes, urls, strict=False):
                started = time.perf_counter()
                store = seeded_store(url, size)
                seconds = time.perf_counter() - started
                print(f"{backend}: seeded {size:,} entries in {seconds:.1f} s")
                results[size] = measure(store, size, options.rounds)
                store.dispose()
            report(backend, results, options.rounds)


def database_urls(
    backend: str, folder: Path, options: argparse.Namespace, servers: ExitStack
) -> list[str]:
    """An empty database for each size."""
    if backend == "sqlite":
        return [f"sqlite:///{folder / f'list{size}.db'}" for size in options.sizes]
    if options.database_url:
        return [options.database_url]  # one database: the first size only
    folder.chmod(0o711)  # the server runs as the postgres user
    server = PostgresInstance(folder / "postgres", free_port())
    server.start()
    servers.callback(server.stop)
    return [server.create_database(f"list{size}") for size in options.sizes]


def report(backend: str, results: dict[int, dict[str, list[float]]], rounds: int) -> None:
    print(f"\nms over {rounds} rounds ({backend}): p50 / p95")
    header = f"{'operation':<18}" + "".join(f"{size:>20,}" for size in results)
    print(header)
    print("-" * len(header))
    for operation in results[min(results)]:
        row = "".join(
            f"{percentile(results[size][operation], 0.5):>11.1f} / "
            f"{percentile(results[size][operation], 0.95):>6.1f}"
            for size in results
        )
        print(f"{operation:<18}{row}")
    print()


if __name__ == "__main__":
    main()
