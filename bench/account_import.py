"""How long ``sekisho account import`` takes for an ISP's whole customer base.

Writes a file of N accounts (100,000 by default) with password hashes of the earlier POP
server, spread over the schemes Dovecot verifies, some with a settings document, and
imports it into a fresh SQLite store and a fresh PostgreSQL database (a private server
from sekisho.devstack, or --database-url) through the same functions as the command.
Then times a few accounts with passwords in clear, whose Argon2 hash is the slow part.
The goal (issue 17): N = 100,000 in under 60 s on each backend.

    .venv/bin/python bench/account_import.py [--accounts 100000] [--with-settings 1000]
        [--format jsonl|csv] [--clear 10] [--database-url URL] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

from sekisho.devstack.ports import free_port
from sekisho.devstack.postgres import PostgresInstance
from sekisho.store import accounts
from sekisho.store.account_import import import_accounts, read_records
from sekisho.store.db import Store
from sekisho.store.migrate import upgrade

# One hash of each scheme (of "taro1234"), as doveadm pw writes them.
HASHES = [
    "{SHA512-CRYPT}$6$lIFCA9W97qGkXGft$a84BA8sF3PspXDrv/dt3H0i6xhErkPsrIYswlbp.02Wr.cLFUSyqY"
    "C4k34YKktcC0Vf7VGfuKMO5AxHRn.L5/1",
    "{SHA256-CRYPT}$5$IS/CdGtTlDJ2JbO4$nRL3oh.DjyPv297pG.heVniZzthSi.HN5dTO9h/mTf3",
    "{BLF-CRYPT}$2y$05$7Qs3KdlKy/4Wbxj3iDniNe0wzMj5T6p/CeOR1ohwWng/m8JgZvcZW",
    "{MD5-CRYPT}$1$A2Il0ljK$XVI3qrLKNyBqjBwdHHbfO.",
    "{SSHA}0U/uvRU0NMqmPAsmBDUax8BnpnuspDr4",
    "{PLAIN-MD5}afd49503a8d7c8c746e4018dad6e4f64",
]
SETTINGS = {"reject_from": ["spam.example", "bulk.example"], "spam_scan": {"enabled": True}}
COLUMNS = ["address", "password_hash", "password", "status", "settings"]


def records(count: int, with_settings: int, clear: bool) -> list[dict[str, object]]:
    made: list[dict[str, object]] = []
    for number in range(count):
        record: dict[str, object] = {"address": f"user{number:06d}@d{number % 20}.example.jp"}
        if clear:
            record["password"] = f"Pass{number:06d}"
        else:
            record["password_hash"] = HASHES[number % len(HASHES)]
        if number % 50 == 49:
            record["status"] = "suspended"
        if number < with_settings:
            record["settings"] = SETTINGS
        made.append(record)
    return made


def write(path: Path, made: list[dict[str, object]], file_kind: str) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        if file_kind == "jsonl":
            handle.writelines(json.dumps(record) + "\n" for record in made)
            return path
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        for record in made:
            settings = record.get("settings")
            row = {**record, "settings": json.dumps(settings) if settings else ""}
            writer.writerow(row)
    return path


def fresh_store(url: str) -> Store:
    upgrade(url)
    store = Store(url)
    with store.transaction() as session:
        for number in range(20):
            accounts.add_domain(
                session, f"d{number}.example.jp", "bench", "smtp.example.jp", "pop.example.jp"
            )
    return store


def timed_import(store: Store, path: Path, file_kind: str) -> tuple[float, int]:
    started = time.perf_counter()
    with path.open(encoding="utf-8", newline="") as source, store.transaction() as session:
        summary = import_accounts(session, read_records(source, file_kind))
    return time.perf_counter() - started, summary.accounts


def run(name: str, url: str, folder: Path, options: argparse.Namespace) -> None:
    kind = options.format
    hashed = write(
        folder / f"hashes.{kind}", records(options.accounts, options.with_settings, False), kind
    )
    store = fresh_store(url)
    seconds, count = timed_import(store, hashed, kind)
    verdict = "ok" if options.accounts < 100_000 or seconds < 60 else "OVER 60 s"
    print(
        f"{name:<10} {count:>9,} accounts with hashes ({options.with_settings:,} with settings)"
        f" in {seconds:6.1f} s = {count / seconds:8,.0f}/s  {verdict}"
    )
    store.dispose()
    if options.clear:
        clear = write(folder / f"clear.{kind}", records(options.clear, 0, True), kind)
        store = fresh_store(url.replace("bench_hashes", "bench_clear"))
        seconds, count = timed_import(store, clear, kind)
        each = seconds / count
        print(
            f"{name:<10} {count:>9,} accounts with passwords in clear in {seconds:6.1f} s = "
            f"{each:.3f} s each (100,000 would take {each * 100_000 / 3600:.1f} h)"
        )
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--with-settings", type=int, default=1_000)
    parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    parser.add_argument("--clear", type=int, default=10, help="accounts with passwords in clear")
    parser.add_argument("--database-url", help="an empty PostgreSQL database to use")
    parser.add_argument("--sqlite-only", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        folder.chmod(0o755)  # PostgreSQL's own user works in it
        # The clear-password store is a second database beside the first.
        run("sqlite", f"sqlite:///{folder / 'bench_hashes.db'}", folder, options)
        if options.sqlite_only:
            return
        if options.database_url:
            run("postgresql", options.database_url, folder, options)
            return
        server = PostgresInstance(folder / "postgres", free_port())
        server.start()
        try:
            server.create_database("bench_clear")
            run("postgresql", server.create_database("bench_hashes"), folder, options)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
