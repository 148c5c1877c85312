"""How the list screens and the milter's policy load behave with very long lists.

Lists have no total limit (docs/features.md §5). This seeds one mailbox's From list with N entries
(100 and 100,000 by default) in a fresh store and times, through Flask's test client and
the store: the first and the last list page, a search, the 「次へ」 of a 20-line submission
(checked against the whole list), a delete of 2 entries, the CSV download, and
``load_policy`` (what a milter does when the settings version changed). It prints the
median of ``--rounds`` and the ratio of the largest list to the smallest.

    .venv/bin/python bench/list_pages.py [--sizes 10 100000] [--rounds 5] [--database-url URL]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flask.testing import FlaskClient

from sekisho.config import load_settings
from sekisho.rules.lists import REJECT_FROM
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.lists import add_entries
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


def timed(work: Callable[[], object], rounds: int) -> float:
    """Median milliseconds of ``rounds`` calls after one untimed warm-up."""
    work()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def measure(store: Store, size: int, rounds: int) -> dict[str, float]:
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

    return {
        "list page 1": timed(lambda: ok("/reject/from/"), rounds),
        "last page": timed(lambda: ok(f"/reject/from/?page={last_page}"), rounds),
        "search": timed(lambda: ok("/reject/from/?q=bulk42"), rounds),
        "次へ (20 lines)": timed(submit, rounds),
        "delete 2": timed(delete_two, rounds),
        "CSV download": timed(lambda: ok("/reject/from/export.csv"), rounds),
        "load_policy": timed(lambda: load_policy(store, ADDRESS), rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 100_000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", help="an empty database to use instead of SQLite")
    options = parser.parse_args()
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for size in options.sizes:
            url = options.database_url or f"sqlite:///{Path(folder) / f'list{size}.db'}"
            started = time.perf_counter()
            store = seeded_store(url, size)
            print(f"seeded {size:,} entries in {time.perf_counter() - started:.1f} s")
            results[size] = measure(store, size, options.rounds)
            store.dispose()
    smallest, largest = min(results), max(results)
    print(f"\nmedian ms of {options.rounds} rounds ({store.engine.dialect.name})")
    header = f"{'operation':<18}" + "".join(f"{size:>12,}" for size in results) + f"{'ratio':>8}"
    print(header)
    print("-" * len(header))
    for operation in results[smallest]:
        row = "".join(f"{results[size][operation]:>12.1f}" for size in results)
        ratio = results[largest][operation] / results[smallest][operation]
        print(f"{operation:<18}{row}{ratio:>8.1f}")


if __name__ == "__main__":
    main()
