"""The sekisho command against the real store (both backends)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sekisho.cli import main


@pytest.fixture
def sekisho(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SEKISHO_DATABASE_URL", database_url)
    monkeypatch.setenv("SEKISHO_SECRET_KEY", "test")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "domain",
            "add",
            "example.jp",
            "--site",
            "ms246",
            "--smtp-host",
            "smtp.example.jp",
            "--pop-host",
            "pop.example.jp",
        ],
    )
    assert result.exit_code == 0, result.output
    return runner


def test_db_upgrade_is_idempotent(sekisho: CliRunner) -> None:
    result = sekisho.invoke(main, ["db", "upgrade"])
    assert result.exit_code == 0
    assert "newest revision" in result.output


def test_account_add_prints_a_temporary_password(sekisho: CliRunner) -> None:
    result = sekisho.invoke(main, ["account", "add", "taro@example.jp"])
    assert result.exit_code == 0
    found = re.search(r"temporary password: (\S+)", result.output)
    assert found is not None
    password = found.group(1)
    assert 6 <= len(password) <= 32
    assert re.search(r"\d", password)
    assert re.search(r"[A-Za-z]", password)


def test_account_add_refuses_unknown_domain(sekisho: CliRunner) -> None:
    result = sekisho.invoke(main, ["account", "add", "taro@unknown.example"])
    assert result.exit_code != 0
    assert "no domain serves taro@unknown.example" in result.output


def test_suspend_and_resume(sekisho: CliRunner) -> None:
    sekisho.invoke(main, ["account", "add", "taro@example.jp", "--password", "secret123"])
    assert "suspended" in sekisho.invoke(main, ["account", "suspend", "taro@example.jp"]).output
    assert "resumed" in sekisho.invoke(main, ["account", "resume", "taro@example.jp"]).output
    missing = sekisho.invoke(main, ["account", "suspend", "nobody@example.jp"])
    assert missing.exit_code != 0
    assert "no account nobody@example.jp" in missing.output


def test_settings_round_trip_without_the_form_limit(sekisho: CliRunner) -> None:
    sekisho.invoke(main, ["account", "add", "taro@example.jp", "--password", "secret123"])
    document = {
        "reject_from": [f"spam{i}.example" for i in range(50)],
        "reject_subject": ["未承諾広告", "Hello"] + [f"offer {i}" for i in range(30)],
        "reject_header": {
            "from_missing": True,
            "from_empty_angle": False,
            "from_empty": True,
            "subject_missing": False,
            "subject_empty": False,
        },
        "allow_from": ["friend@bad.example", "partner.example"],
        "spam_scan": {"enabled": True, "quarantine": False, "notify": False},
        "virus_scan": True,
        "abroad_send_unlocked_until": "2026-12-04T01:00:00+00:00",
        "forwarding": [
            {"to": "jiro@mobile.example", "keep": True},
            {"to": "taro.work@office.example", "keep": False},
        ],
        "auto_reply": {
            "enabled": True,
            "message": "ただいま不在です。\n1月5日に戻ります。",
            "per_sender": [{"sender": "boss@corp.example", "message": "Back on the 5th."}],
            "starts_on": "2026-12-28",
            "ends_on": "2027-01-04",
        },
    }
    result = sekisho.invoke(
        main, ["settings", "import", "taro@example.jp", "-"], input=json.dumps(document)
    )
    assert result.exit_code == 0, result.output
    exported = sekisho.invoke(main, ["settings", "export", "taro@example.jp"])
    assert json.loads(exported.output) == document


def test_header_keys_left_out_keep_their_value(sekisho: CliRunner) -> None:
    sekisho.invoke(main, ["account", "add", "taro@example.jp", "--password", "secret123"])
    for document in (
        {"reject_header": {"from_missing": True}},
        {"reject_header": {"subject_empty": True}},
    ):
        sekisho.invoke(
            main, ["settings", "import", "taro@example.jp", "-"], input=json.dumps(document)
        )
    exported = json.loads(sekisho.invoke(main, ["settings", "export", "taro@example.jp"]).output)
    on = {key for key, value in exported["reject_header"].items() if value}
    assert on == {"from_missing", "subject_empty"}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"reject_from": ["ok.example", "bad one"]}, "contains a space"),
        ({"reject_from": ["a.example", "A.example"]}, "repeats line 1"),
        ({"reject_from": ["x" * 321]}, "at most 320 are allowed"),
        ({"reject_from": "bad.example"}, "must be a list of strings"),
        ({"reject_subject": ["ｱｲｳ"]}, "half-width katakana (ｱｲｳ)"),
        ({"reject_subject": ["x"]}, "enter at least 2 characters"),
        ({"allow_from": ["taro@"]}, "is a local part alone"),
        ({"reject_header": {"from_missing": "yes"}}, "must be an object of true/false values"),
        ({"reject_header": {"from_gone": True}}, "Unknown key “reject_header.from_gone”"),
        ({"spam_scan": {"enabled": 1}}, "must be an object of true/false values"),
        ({"spam_scan": {"tag": True}}, "Unknown key “spam_scan.tag”"),
        ({"reject_frm": ["bad.example"]}, "Unknown key “reject_frm”"),
        ({"virus_scan": "on"}, "“virus_scan” must be true or false"),
        ({"forwarding": [{"to": "taro@example.jp", "keep": True}]}, "is this mailbox itself"),
        ({"forwarding": ["jiro@mobile.example"]}, 'must be a list of {"to": address'),
        ({"auto_reply": {"enabled": True}}, "Enter the reply message."),
        ({"auto_reply": {"enabled": True, "message": "x", "days": 3}}, "“auto_reply.days”"),
        ({"auto_reply": {"starts_on": "28/12/2026"}}, "must be a date (YYYY-MM-DD) or null"),
        (
            {"auto_reply": {"per_sender": [{"sender": "a b", "message": "x"}]}},
            "contains a space",
        ),
        ({"auto_reply": {"per_sender": ["boss@corp.example"]}}, 'must be a list of {"sender"'),
        (
            {"abroad_send_unlocked_until": "2026-12-04T01:00:00"},
            "must be an ISO 8601 date and time with its offset",
        ),
        (
            {"abroad_send_unlocked_until": "2099-01-01T00:00:00+09:00"},
            "is more than 7 days ahead",
        ),
        (["bad.example"], "must be a JSON object"),
    ],
)
def test_import_is_all_or_nothing(sekisho: CliRunner, document: object, reason: str) -> None:
    sekisho.invoke(main, ["account", "add", "taro@example.jp", "--password", "secret123"])
    before = json.dumps({"reject_from": ["kept.example"]})
    sekisho.invoke(main, ["settings", "import", "taro@example.jp", "-"], input=before)
    result = sekisho.invoke(
        main, ["settings", "import", "taro@example.jp", "-"], input=json.dumps(document)
    )
    assert result.exit_code != 0
    assert reason in result.output
    assert "nothing was imported" in result.output
    exported = sekisho.invoke(main, ["settings", "export", "taro@example.jp"])
    assert json.loads(exported.output)["reject_from"] == ["kept.example"]
    assert json.loads(exported.output)["reject_subject"] == []


def test_auto_reply_keys_left_out_keep_their_value(sekisho: CliRunner) -> None:
    sekisho.invoke(main, ["account", "add", "taro@example.jp", "--password", "secret123"])
    for document in (
        {"auto_reply": {"enabled": True, "message": "away\r\n"}},
        {"auto_reply": {"ends_on": "2027-01-04"}},
    ):
        result = sekisho.invoke(
            main, ["settings", "import", "taro@example.jp", "-"], input=json.dumps(document)
        )
        assert result.exit_code == 0, result.output
    exported = json.loads(sekisho.invoke(main, ["settings", "export", "taro@example.jp"]).output)
    assert exported["auto_reply"] == {
        "enabled": True,
        "message": "away",
        "per_sender": [],
        "starts_on": None,
        "ends_on": "2027-01-04",
    }
