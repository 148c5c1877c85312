"""`make demo`: the whole product on this machine's loopback, with demo accounts.

    .venv/bin/python scripts/demo.py start   # Postfix + milter + web UI, then print what to try
    .venv/bin/python scripts/demo.py stop    # stop everything it started, by pid

Ports and folders are in DEMO below (environment overrides for the test of this script).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sekisho.devstack.ports import wait_for_tcp
from sekisho.devstack.stack import LocalStack
from sekisho.store import accounts
from sekisho.store.db import Store
from sekisho.store.settings_doc import import_settings

ROOT = Path(__file__).resolve().parents[1]
RUN = Path(os.environ.get("SEKISHO_DEMO_DIR", ROOT / "var" / "demo"))
SMTP_PORT = int(os.environ.get("SEKISHO_DEMO_SMTP_PORT", "2525"))
REINJECT_PORT = int(os.environ.get("SEKISHO_DEMO_REINJECT_PORT", "10026"))
WEB_PORT = int(os.environ.get("SEKISHO_DEMO_WEB_PORT", "8080"))
ACCOUNTS = {"taro@example.jp": "taro1234", "hanako@example.jp": "hanako123"}
STATE = "demo-state.json"
DEMO_RULES = {
    "taro@example.jp": {
        "reject_from": ["bad.example", "spam@junk.example"],
        "reject_subject": ["未承諾広告"],
        "reject_header": {"from_missing": True},
        "allow_from": ["friend@bad.example"],
    }
}
# 「【未承諾広告】セール」 as a mail program sends it (RFC 2047, ISO-2022-JP).
JAPANESE_SUBJECT = "=?ISO-2022-JP?B?GyRCIVpMJD41Qno5LTlwIVslOyE8JWsbKEI=?="


def start() -> int:
    if (RUN / STATE).exists():
        stop()
    stack = LocalStack(
        RUN, smtp_port=SMTP_PORT, reinject_port=REINJECT_PORT, web_port=WEB_PORT, with_web=True
    )
    stack.start()
    state = {"pids": stack.pids(), "postfix": str(RUN / "pf-etc")}
    (RUN / STATE).write_text(json.dumps(state))
    seed(stack.database_url)
    wait_for_tcp(stack.web_port)
    print(instructions(stack))
    return 0


def seed(database_url: str) -> None:
    """Demo accounts with a few rules; a demo started again keeps what was changed."""
    store = Store(database_url)
    with store.transaction() as session:
        if accounts.domain_for(session, "x@example.jp") is None:
            accounts.add_domain(session, "example.jp", "demo", "smtp.example.jp", "pop.example.jp")
        for address, password in ACCOUNTS.items():
            if accounts.find_account(session, address) is None:
                accounts.add_account(session, address, password)
                import_settings(session, address, DEMO_RULES.get(address, {}))
    store.dispose()


def instructions(stack: LocalStack) -> str:
    return f"""
sekisho demo is running (everything on 127.0.0.1; stop it with `make demo-stop`).

  Web UI       {stack.web_url}/login
               taro@example.jp / taro1234    (rules below)
               hanako@example.jp / hanako123 (no rules)
  taro's rules From reject list bad.example, spam@junk.example; Subject list 未承諾広告;
               header check "From missing"; allow list friend@bad.example
  SMTP in      127.0.0.1:{stack.smtp_port}  (Postfix with the sekisho milter)
  Maildirs     {stack.mail_root}/example.jp/<user>/  (quarantine: .Junk/)
  Logs         {stack.run}/postfix.log  {stack.run}/milter.log  {stack.run}/web.log

Try it:
  swaks --server 127.0.0.1:{stack.smtp_port} --from someone@bad.example \\
        --to taro@example.jp,hanako@example.jp --header "Subject: hello from bad.example"

  -> hanako gets it in {stack.mail_root}/example.jp/hanako/new/
  -> taro's copy is in {stack.mail_root}/example.jp/taro/.Junk/new/ and on the
     迷惑メールフォルダ page: log in as taro at {stack.web_url}/login

More to try:
  swaks --server 127.0.0.1:{stack.smtp_port} --from shop@ads.example --to taro@example.jp \
        --header "Subject: {JAPANESE_SUBJECT}"
  -> quarantined by the Subject list (the subject reads 【未承諾広告】セール)
  swaks --server 127.0.0.1:{stack.smtp_port} --from friend@bad.example --to taro@example.jp
  -> delivered to taro's inbox: the allow list wins over the From reject list
  Each list page (受信拒否設定, 受信許可設定) shows how many mails every entry caught.
"""


def stop() -> int:
    state_file = RUN / STATE
    if not state_file.exists():
        print("sekisho demo is not running")
        return 0
    state = json.loads(state_file.read_text())
    for pid in state["pids"]:
        try:
            os.kill(pid, signal.SIGKILL)  # loses at most the last 2 s of hit counts
        except ProcessLookupError:
            continue
    subprocess.run(["postfix", "-c", state["postfix"], "stop"], check=False, capture_output=True)
    state_file.unlink()
    print("sekisho demo stopped")
    return 0


if __name__ == "__main__":
    commands = {"start": start, "stop": stop}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(__doc__)
        raise SystemExit(2)
    raise SystemExit(commands[sys.argv[1]]())
