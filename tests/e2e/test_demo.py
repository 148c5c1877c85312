"""`make demo` as the README tells it: start, send with swaks, see the quarantine in the UI,
reset to the first state, stop."""

from __future__ import annotations

import http.cookiejar
import json
import os
import poplib
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from sekisho.config import load_settings
from sekisho.devstack.ports import free_port
from sekisho.store.db import Store
from sekisho.store.settings_doc import export_settings, import_settings

ROOT = Path(__file__).resolve().parents[2]


def test_demo_start_swaks_quarantine_page_reset_stop(run_root: Path) -> None:
    run = run_root / "demo"
    environment = {
        **os.environ,
        "SEKISHO_DEMO_DIR": str(run),
        "SEKISHO_DEMO_SMTP_PORT": str(free_port()),
        "SEKISHO_DEMO_REINJECT_PORT": str(free_port()),
        "SEKISHO_DEMO_WEB_PORT": str(free_port()),
        "SEKISHO_DEMO_RSPAMD_PORT": str(free_port()),
        "SEKISHO_DEMO_CLAMD_PORT": str(free_port()),
        "SEKISHO_DEMO_POP3_PORT": str(free_port()),
        "SEKISHO_DEMO_IMAP_PORT": str(free_port()),
        "SEKISHO_DEMO_SUBMISSION_PORT": str(free_port()),
        "SEKISHO_DEMO_SASL_PORT": str(free_port()),
        "SEKISHO_DEMO_POLICY_PORT": str(free_port()),
        "SEKISHO_DEMO_SRS_FORWARD_PORT": str(free_port()),
        "SEKISHO_DEMO_SRS_REVERSE_PORT": str(free_port()),
        "SEKISHO_DEMO_MILTER_METRICS_PORT": str(free_port()),
        "SEKISHO_DEMO_WORKER_METRICS_PORT": str(free_port()),
    }
    demo = [sys.executable, str(ROOT / "scripts/demo.py")]
    started = subprocess.run(
        [*demo, "start"], env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    try:
        assert started.returncode == 0, started.stderr
        # The banner's accounts are read from the store.
        assert "taro@example.jp / taro1234\n" in started.stdout
        assert "From reject list: bad.example, spam@junk.example\n" in started.stdout
        assert "spam scan on (quarantine, notices)\n" in started.stdout
        store = Store(load_settings(run / "sekisho.toml", environ={}).database_url)
        first_state = settings_of(store)
        commands = re.findall(r"(swaks --server .*?)\n  ->", started.stdout, re.S)
        assert len(commands) == 5, started.stdout
        junk = run / "mail/example.jp/taro/.Junk/new"
        inbox = run / "mail/example.jp/taro/new"
        hanako_junk = run / "mail/example.jp/hanako/.Junk/new"
        hanako_inbox = run / "mail/example.jp/hanako/new"  # the first mail, then the notice
        # Each printed command line, run as a newcomer would paste it into a shell: the
        # From list and the Subject list quarantine, the allow list delivers, rspamd
        # catches GTUBE for hanako and the worker's notice follows.
        expected = [
            [(junk, 1)],
            [(junk, 2)],
            [(inbox, 1)],
            [(hanako_junk, 1), (hanako_inbox, 2)],
            [(inbox, 2)],  # the virus report; the infected mail itself never arrives
        ]
        for command, folders in zip(commands, expected, strict=True):
            sent = subprocess.run(  # noqa: S602
                command.replace("\\\n", " "),
                shell=True,
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            assert "250 2.0.0 Ok: queued" in sent.stdout, sent.stdout
            for folder, count in folders:
                wait_for_files(folder, count)
        notices = [p for p in hanako_inbox.iterdir() if b"X-Sekisho-Notice: " in p.read_bytes()]
        assert len(notices) == 1
        notice = notices[0].read_bytes()
        assert notice.startswith(b"Return-Path: <>\n")
        assert b"   Subject: big offer\n" in notice
        assert re.search(rb"http://127\.0\.0\.1:\d+/release/\S+", notice)

        report = max(inbox.iterdir(), key=lambda path: path.stat().st_mtime).read_bytes()
        assert b"X-Sekisho-Notice: virus" in report
        pop3 = re.search(r"POP3\s+127\.0\.0\.1:(\d+)", started.stdout)
        assert pop3
        client = poplib.POP3("127.0.0.1", int(pop3.group(1)), timeout=10)
        client.user("taro@example.jp")
        client.pass_("taro1234")
        assert client.stat()[0] == 2  # the allowed mail and the virus report
        client.quit()

        web = re.search(r"Web UI\s+(http://\S+)/login", started.stdout)
        assert web
        page = quarantine_page(web.group(1), "taro@example.jp", "taro1234")
        assert "迷惑メールフォルダ" in page
        assert "hello from bad.example" in page
        assert "someone@bad.example" in page
        assert "【未承諾広告】セール" in page

        check = re.search(r"Check\s+(SEKISHO_CONFIG=\S+) \.venv/bin/sekisho check", started.stdout)
        assert check
        checked = subprocess.run(
            [str(Path(sys.executable).with_name("sekisho")), "check"],
            env={**os.environ, **dict([check.group(1).split("=", 1)])},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "ok   postsrsd" in checked.stdout
        metrics = re.search(
            r"Metrics\s+http://127\.0\.0\.1:(\d+)/metrics \(milter\)", started.stdout
        )
        assert metrics
        page_url = f"http://127.0.0.1:{metrics.group(1)}/metrics"
        exposed = urllib.request.urlopen(page_url, timeout=10).read().decode()
        for rule in ("reject_from", "reject_subject", "spam"):
            assert f'sekisho_recipients_total{{outcome="quarantine",rule="{rule}"}} 1.0' in exposed
        assert 'sekisho_recipients_total{outcome="virus",rule=""} 1.0' in exposed

        # Change a setting and lock hanako out of the web UI; reset brings the first state
        # back on the running demo: settings, empty Maildirs, no lockout, mail filtered.
        with store.transaction() as session:
            import_settings(session, "taro@example.jp", {"reject_from": [], "virus_scan": False})
        for _ in range(5):
            assert login_status(web.group(1), "hanako@example.jp", "wrong1234") == 200
        assert login_status(web.group(1), "hanako@example.jp", "hanako123") == 429
        reset = subprocess.run(
            [*demo, "reset"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert reset.returncode == 0, reset.stdout + reset.stderr
        assert "From reject list: bad.example, spam@junk.example\n" in reset.stdout
        assert "locked" not in reset.stdout
        assert settings_of(store) == first_state
        assert not [path for path in (run / "mail").rglob("*") if path.is_file()]
        assert "hello from bad.example" not in quarantine_page(
            web.group(1), "taro@example.jp", "taro1234"
        )
        assert "迷惑メールフォルダ" in quarantine_page(
            web.group(1), "hanako@example.jp", "hanako123"
        )
        first = subprocess.run(  # noqa: S602
            commands[0].replace("\\\n", " "),
            shell=True,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert "250 2.0.0 Ok: queued" in first.stdout, first.stdout
        wait_for_files(junk, 1)
        wait_for_files(hanako_inbox, 1)
        store.dispose()
        started_pids = json.loads((run / "demo-state.json").read_text())["pids"]
    finally:
        stopped = subprocess.run(
            [*demo, "stop"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert "sekisho demo stopped" in stopped.stdout
    assert not (run / "demo-state.json").exists()
    for pid in started_pids:  # everything it started, stopped by pid
        assert (
            not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


def settings_of(store: Store) -> dict[str, Any]:
    with store.read() as session:
        return {
            address: export_settings(session, address)
            for address in ("taro@example.jp", "hanako@example.jp")
        }


def wait_for_files(folder: Path, count: int) -> None:
    deadline = time.monotonic() + 20
    while not (folder.exists() and len(list(folder.iterdir())) >= count):
        assert time.monotonic() < deadline, f"nothing in {folder}"
        time.sleep(0.1)


def login_status(base: str, address: str, password: str) -> int:
    """429 when the address is locked out; 200 when the login passes or is refused."""
    try:
        quarantine_page(base, address, password)
    except urllib.error.HTTPError as error:
        return error.code
    return 200


def quarantine_page(base: str, address: str, password: str) -> str:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    login = opener.open(base + "/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login)
    assert token, login
    form = urllib.parse.urlencode(
        {"address": address, "password": password, "csrf_token": token.group(1)}
    ).encode()
    opener.open(base + "/login", data=form, timeout=10).read()
    return str(opener.open(base + "/quarantine/", timeout=10).read().decode())
