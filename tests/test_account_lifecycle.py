"""The account lifecycle from the command line on the real stores: list and search with
paging, show, delete with its store rows (the Maildir kept unless asked), domains listed,
shown and removed only when empty, and every operator action in the audit log with who."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from sekisho.cli import main
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.models import OutboxMessage, QuarantinedMessage, SettingsChange
from sekisho.store.outbox import enqueue
from tests.imported_hashes import HASHES
from tests.test_cli import sekisho  # noqa: F401 -- the fixture: a store with example.jp
from tests.test_quarantine_folder import quarantine


@pytest.fixture
def runner(sekisho: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:  # noqa: F811
    monkeypatch.setenv("SEKISHO_MAIL_ROOT", str(tmp_path / "mail"))
    customers = tmp_path / "customers.jsonl"
    customers.write_text(
        "".join(
            json.dumps({"address": f"user{n:02d}@example.jp", "password_hash": HASHES["SSHA"]})
            + "\n"
            for n in range(60)
        )
    )
    result = sekisho.invoke(main, ["account", "import", str(customers)])
    assert result.exit_code == 0, result.output
    return sekisho


def run(runner: CliRunner, *arguments: str) -> str:
    result = runner.invoke(main, list(arguments))
    assert result.exit_code == 0, result.output
    return result.output


def test_accounts_are_listed_50_a_page_and_searched(runner: CliRunner) -> None:
    first = run(runner, "account", "list").splitlines()
    assert first[0].startswith("user00@example.jp\tactive\t")
    assert first[-1] == "page 1 of 2, 60 accounts"
    assert len(first) == 51
    second = run(runner, "account", "list", "--page", "2").splitlines()
    assert second[0].startswith("user50@example.jp")
    found = run(runner, "account", "list", "--query", "ER1", "--domain", "example.jp")
    assert [line.split("\t")[0] for line in found.splitlines()[:-1]] == [
        f"user1{n}@example.jp" for n in range(10)
    ]
    assert run(runner, "account", "list", "--query", "%").splitlines() == [
        "page 1 of 1, 0 accounts"
    ]


def test_an_account_is_shown_without_its_hash(runner: CliRunner) -> None:
    shown = json.loads(run(runner, "account", "show", "USER01@example.jp"))
    assert shown["address"] == "user01@example.jp"
    assert shown["domain"] == "example.jp"
    assert shown["status"] == "active"
    assert shown["password_scheme"] == "SSHA"
    assert "password_hash" not in shown


def add_mail(store: Store, address: str, mail_root: Path) -> None:
    """A quarantined copy (file and row) and its pending notice."""
    record_id = quarantine(store, mail_root, "spam", address)
    with store.transaction() as session:
        account = accounts.require_account(session, address)
        enqueue(
            session,
            "notice",
            f"n-{address}",
            address,
            account_id=account.id,
            quarantine_id=record_id,
        )


def rows(store: Store, model: type[QuarantinedMessage] | type[OutboxMessage]) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_delete_takes_the_store_rows_and_keeps_the_maildir_unless_asked(
    runner: CliRunner, store: Store, tmp_path: Path
) -> None:
    mail_root = tmp_path / "mail"
    for address in ("user01@example.jp", "user02@example.jp"):
        add_mail(store, address, mail_root)
    output = run(runner, "account", "delete", "user01@example.jp")
    assert "account user01@example.jp deleted; its Maildir is kept" in output
    assert (mail_root / "example.jp" / "user01").is_dir()
    assert rows(store, QuarantinedMessage) == 1
    assert rows(store, OutboxMessage) == 1
    output = run(runner, "account", "delete", "user02@example.jp", "--remove-maildir")
    assert output.endswith(
        f"its Maildir {mail_root.absolute() / 'example.jp' / 'user02'} removed\n"
    )
    assert not (mail_root / "example.jp" / "user02").exists()
    assert (mail_root / "example.jp" / "user01").is_dir()
    assert rows(store, QuarantinedMessage) == 0
    assert rows(store, OutboxMessage) == 0
    with store.read() as session:
        assert accounts.find_account(session, "user02@example.jp") is None
        assert session.scalar(select(func.count()).select_from(SettingsChange)) == 0
    again = runner.invoke(main, ["account", "delete", "user02@example.jp"])
    assert again.exit_code == 1
    assert "no account user02@example.jp" in again.output


def test_domains_are_listed_shown_and_removed_only_when_empty(runner: CliRunner) -> None:
    run(
        runner,
        "domain",
        "add",
        "empty.example",
        "--site",
        "ms246",
        "--smtp-host",
        "s",
        "--pop-host",
        "p",
    )
    listed = [json.loads(line) for line in run(runner, "domain", "list").splitlines()]
    assert listed == [
        {
            "name": "empty.example",
            "site": "ms246",
            "smtp_host": "s",
            "pop_host": "p",
            "accounts": 0,
        },
        {
            "name": "example.jp",
            "site": "ms246",
            "smtp_host": "smtp.example.jp",
            "pop_host": "pop.example.jp",
            "accounts": 60,
        },
    ]
    assert json.loads(run(runner, "domain", "show", "example.jp"))["accounts"] == 60
    refused = runner.invoke(main, ["domain", "remove", "example.jp"])
    assert refused.exit_code == 1
    assert "domain example.jp still has 60 accounts: delete them first" in refused.output
    assert "domain empty.example removed" in run(runner, "domain", "remove", "empty.example")
    missing = runner.invoke(main, ["domain", "show", "empty.example"])
    assert missing.exit_code == 1
    assert "no domain empty.example" in missing.output


def test_every_operator_action_is_in_the_audit_log_with_who(runner: CliRunner) -> None:
    run(runner, "account", "suspend", "user03@example.jp")
    run(runner, "account", "resume", "user03@example.jp")
    run(runner, "account", "reset-password", "user03@example.jp")
    run(runner, "account", "delete", "user04@example.jp")
    run(runner, "token", "create", "--name", "crm", "--domain", "example.jp")
    run(runner, "token", "revoke", "crm")
    logged = [json.loads(line) for line in run(runner, "audit").splitlines()]
    assert {entry["actor"] for entry in logged} == {f"cli:{getpass.getuser()}"}
    assert [(entry["action"], entry["target"]) for entry in logged[:6]] == [
        ("token.revoke", "crm"),
        ("token.create", "crm"),
        ("account.delete", "user04@example.jp"),
        ("account.reset_password", "user03@example.jp"),
        ("account.resume", "user03@example.jp"),
        ("account.suspend", "user03@example.jp"),
    ]
    assert logged[6] == {**logged[6], "action": "account.import", "target": "customers.jsonl"}
    assert logged[6]["details"] == "60 accounts"
