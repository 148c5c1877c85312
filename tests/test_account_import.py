"""``sekisho account import`` on the real stores: hashes kept as given, passwords in clear
hashed, settings documents checked like ``settings import``; all or nothing per file with
every problem on its line; ``--dry-run`` writes nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from sekisho.cli import main
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.models import Account
from sekisho.store.passwords import scheme_of
from tests.imported_hashes import HASHES, PASSWORD
from tests.test_cli import sekisho  # noqa: F401 -- the fixture: a store with example.jp

SETTINGS = {"reject_from": ["spam.example"], "forwarding": [{"to": "jiro@m.example", "keep": True}]}
COLUMNS = ["address", "password_hash", "password", "status", "settings"]


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
    return path


def addresses(store: Store) -> list[str]:
    with store.read() as session:
        return list(session.scalars(select(Account.address).order_by(Account.address)))


def test_a_csv_file_keeps_hashes_and_hashes_passwords_in_clear(
    sekisho: CliRunner,  # noqa: F811
    store: Store,
    tmp_path: Path,
) -> None:
    source = write_csv(
        tmp_path / "customers.csv",
        [
            {"address": "Taro@Example.JP", "password_hash": HASHES["SHA512-CRYPT"]},
            {
                "address": "hanako@example.jp",
                "password_hash": HASHES["SSHA"],
                "status": "suspended",
            },
            {
                "address": "jiro@example.jp",
                "password": "Jiro2026",
                "settings": json.dumps(SETTINGS),
            },
        ],
    )
    result = sekisho.invoke(main, ["account", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "3 accounts imported: 1 with a password in clear, 1 with settings" in result.output
    with store.read() as session:
        taro = accounts.require_account(session, "taro@example.jp")
        assert taro.password_hash == HASHES["SHA512-CRYPT"]
        assert not taro.must_change_password
        assert accounts.authenticate(session, "taro@example.jp", PASSWORD) is taro
        assert accounts.require_account(session, "hanako@example.jp").status == "suspended"
        jiro = accounts.require_account(session, "jiro@example.jp")
        assert scheme_of(jiro.password_hash) == "ARGON2ID"
        assert accounts.authenticate(session, "jiro@example.jp", "Jiro2026") is jiro
    exported = json.loads(sekisho.invoke(main, ["settings", "export", "jiro@example.jp"]).output)
    assert exported["reject_from"] == SETTINGS["reject_from"]
    assert exported["forwarding"] == SETTINGS["forwarding"]


def test_json_lines_take_the_settings_document_as_an_object(
    sekisho: CliRunner,  # noqa: F811
    store: Store,
    tmp_path: Path,
) -> None:
    source = write_jsonl(
        tmp_path / "customers.jsonl",
        [
            {
                "address": "taro@example.jp",
                "password_hash": HASHES["PLAIN-MD5"],
                "settings": SETTINGS,
            },
            {"address": "hanako@example.jp", "password_hash": HASHES["BLF-CRYPT"]},
        ],
    )
    result = sekisho.invoke(main, ["account", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert addresses(store) == ["hanako@example.jp", "taro@example.jp"]
    exported = json.loads(sekisho.invoke(main, ["settings", "export", "taro@example.jp"]).output)
    assert exported["reject_from"] == ["spam.example"]


def test_every_problem_is_reported_on_its_line_and_nothing_is_written(
    sekisho: CliRunner,  # noqa: F811
    store: Store,
    tmp_path: Path,
) -> None:
    sekisho.invoke(main, ["account", "add", "old@example.jp", "--password", "secret123"])
    records: list[object] = [
        {"address": "good@example.jp", "password_hash": HASHES["SSHA"]},
        {"address": "taro@elsewhere.example", "password_hash": HASHES["SSHA"]},
        {"address": "good@example.jp", "password": "Good2026"},
        {"address": "bad@example.jp", "password_hash": "$6$no-prefix"},
        {"address": "both@example.jp", "password": "x1", "password_hash": HASHES["SSHA"]},
        {"address": "status@example.jp", "password": "x1", "status": "closed"},
        {"address": "old@example.jp", "password": "x1"},
        {"address": "doc@example.jp", "password": "x1", "settings": {"reject_from": ["a b"]}},
        ["not", "an", "object"],
    ]
    source = write_jsonl(tmp_path / "customers.jsonl", records)
    with source.open("a") as handle:
        handle.write("{broken\n")
    result = sekisho.invoke(main, ["account", "import", str(source)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: line 2: no domain serves taro@elsewhere.example; add it with 'domain add'",
        "error: line 3: good@example.jp is on line 1 already",
        "error: line 4: password_hash: the hash must start with one of {ARGON2ID}, "
        "{SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT}, {MD5-CRYPT}, {SSHA512}, {SSHA}, {CRYPT}, "
        "{PLAIN-MD5}",
        "error: line 5: give either password_hash or password",
        "error: line 6: status 'closed' is not one of active, suspended",
        "error: line 7: account old@example.jp exists already",
        "error: line 8: settings: Line 1: “a b” contains a space; enter one address per line.",
        "error: line 9: a record must be an object of address, password_hash, password, "
        "status, settings",
        "error: line 10: not JSON: Expecting property name enclosed in double quotes",
    ]
    assert "nothing was imported: 9 problems" in result.output
    assert addresses(store) == ["old@example.jp"]


def test_a_settings_document_is_checked_as_settings_import_checks_it(
    sekisho: CliRunner,  # noqa: F811
    store: Store,
    tmp_path: Path,
) -> None:
    source = write_csv(
        tmp_path / "customers.csv",
        [
            {"address": "taro@example.jp", "password": "Taro2026"},
            {
                "address": "hanako@example.jp",
                "password": "Hana2026",
                "settings": json.dumps({"reject_from": ["ok.example", "bad one"], "tag": 1}),
            },
        ],
    )
    result = sekisho.invoke(main, ["account", "import", str(source)])
    assert result.exit_code == 1
    assert "error: line 3: settings: Unknown key “tag”." in result.output
    assert "contains a space" in result.output.split("error: line 3: settings: ")[2]
    assert addresses(store) == []


def test_a_dry_run_checks_everything_and_writes_nothing(
    sekisho: CliRunner,  # noqa: F811
    store: Store,
    tmp_path: Path,
) -> None:
    source = write_csv(
        tmp_path / "customers.txt",
        [
            {
                "address": "taro@example.jp",
                "password": "Taro2026",
                "settings": json.dumps(SETTINGS),
            },
            {"address": "hanako@example.jp", "password_hash": HASHES["MD5-CRYPT"]},
        ],
    )
    unknown = sekisho.invoke(main, ["account", "import", str(source)])
    assert unknown.exit_code == 1
    assert "cannot tell the format of customers.txt: use --format csv|jsonl" in unknown.output
    result = sekisho.invoke(
        main, ["account", "import", "--format", "csv", "--dry-run", str(source)]
    )
    assert result.exit_code == 0, result.output
    assert "2 accounts would be imported (dry run, nothing written)" in result.output
    assert addresses(store) == []


def test_an_unknown_csv_column_is_named_once(
    sekisho: CliRunner,  # noqa: F811
    tmp_path: Path,
) -> None:
    source = tmp_path / "customers.csv"
    source.write_text("address,passwd\ntaro@example.jp,Taro2026\n")
    result = sekisho.invoke(main, ["account", "import", str(source)])
    assert result.exit_code == 1
    assert (
        "error: line 1: unknown columns passwd; the columns are address, password_hash, "
        "password, status, settings"
    ) in result.output
