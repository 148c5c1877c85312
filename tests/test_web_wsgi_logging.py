"""Under gunicorn no sekisho command runs: the WSGI module itself sets up the logging, so
a failed login and a settings change (INFO) reach stderr (the journal) as under ``sekisho web``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.migrate import upgrade

# What gunicorn does (import the module, serve its ``app``): a wrong password, then the
# right one and a change of the virus scan.
A_FAILED_LOGIN_AND_A_CHANGE = """
from sekisho.webui.wsgi import app
from tests.webclient import csrf, hidden, login
client = app.test_client()
login(client, password="wrong-one")
login(client)
page = client.get("/virus/").get_data(as_text=True)
client.post("/virus/", data={"token": hidden(page, "token"), "csrf_token": csrf(page)})
"""


def test_the_wsgi_module_logs_info_lines_as_plain_text_to_stderr(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sekisho.db'}"
    upgrade(url)
    store = Store(url)
    with store.transaction() as session:
        accounts.add_domain(session, "example.jp", "ms246", "smtp.example.jp", "pop.example.jp")
        accounts.add_account(session, "taro@example.jp", "taro1234")
    store.dispose()
    environ = {key: value for key, value in os.environ.items() if not key.startswith("SEKISHO_")}
    environ |= {
        "SEKISHO_SECRET_KEY": "test",
        "SEKISHO_DATABASE_URL": url,
        "SEKISHO_MAIL_ROOT": str(tmp_path / "mail"),
        "SEKISHO_LOG_LEVEL": "info",
    }
    done = subprocess.run(
        [sys.executable, "-c", A_FAILED_LOGIN_AND_A_CHANGE],
        env=environ,
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert " WARNING sekisho.web login_failed address=taro@example.jp " in done.stderr
    assert (
        " INFO sekisho.audit settings_changed address=taro@example.jp area=virus "
        "client=127.0.0.1 change=set count=1" in done.stderr
    )
    assert "\x1b[" not in done.stderr
