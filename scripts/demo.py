"""`make demo`: the whole product on this machine's loopback, with demo accounts.

    .venv/bin/python scripts/demo.py start   # the whole stack on 127.0.0.1; prints what to try
    .venv/bin/python scripts/demo.py reset   # back to the first state: store, Maildirs, lockouts
    .venv/bin/python scripts/demo.py stop    # stop everything it started, by pid

Ports and folders are in DEMO below (environment overrides for the test of this script).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete

from sekisho.config import load_settings
from sekisho.devstack.clamd import EICAR, ClamdInstance
from sekisho.devstack.ports import wait_for_tcp
from sekisho.devstack.spam import RspamdInstance
from sekisho.devstack.stack import LocalStack
from sekisho.store import accounts, audit
from sekisho.store.db import Store
from sekisho.store.models import Base, utcnow
from sekisho.store.settings_doc import export_settings, import_settings

ROOT = Path(__file__).resolve().parents[1]
RUN = Path(os.environ.get("SEKISHO_DEMO_DIR", ROOT / "var" / "demo"))
SMTP_PORT = int(os.environ.get("SEKISHO_DEMO_SMTP_PORT", "2525"))
REINJECT_PORT = int(os.environ.get("SEKISHO_DEMO_REINJECT_PORT", "10026"))
WEB_PORT = int(os.environ.get("SEKISHO_DEMO_WEB_PORT", "8080"))
RSPAMD_PORT = int(os.environ.get("SEKISHO_DEMO_RSPAMD_PORT", "11333"))
CLAMD_PORT = int(os.environ.get("SEKISHO_DEMO_CLAMD_PORT", "3310"))
POP3_PORT = int(os.environ.get("SEKISHO_DEMO_POP3_PORT", "1110"))
IMAP_PORT = int(os.environ.get("SEKISHO_DEMO_IMAP_PORT", "1143"))
SUBMISSION_PORT = int(os.environ.get("SEKISHO_DEMO_SUBMISSION_PORT", "5870"))
SASL_PORT = int(os.environ.get("SEKISHO_DEMO_SASL_PORT", "10003"))
POLICY_PORT = int(os.environ.get("SEKISHO_DEMO_POLICY_PORT", "8895"))
MILTER_METRICS_PORT = int(os.environ.get("SEKISHO_DEMO_MILTER_METRICS_PORT", "9465"))
WORKER_METRICS_PORT = int(os.environ.get("SEKISHO_DEMO_WORKER_METRICS_PORT", "9466"))
SRS_FORWARD_PORT = int(os.environ.get("SEKISHO_DEMO_SRS_FORWARD_PORT", "10001"))
SRS_REVERSE_PORT = int(os.environ.get("SEKISHO_DEMO_SRS_REVERSE_PORT", "10002"))
ACCOUNTS = {"taro@example.jp": "taro1234", "hanako@example.jp": "hanako123"}
STATE = "demo-state.json"
TOKYO = ZoneInfo("Asia/Tokyo")
HEADER_CHECKS = {
    "from_missing": "From missing",
    "from_empty_angle": "From: <>",
    "from_empty": "From empty",
    "subject_missing": "Subject missing",
    "subject_empty": "Subject empty",
}
DEMO_RULES = {
    "taro@example.jp": {
        "reject_from": ["bad.example", "spam@junk.example"],
        "reject_subject": ["未承諾広告"],
        "reject_header": {"from_missing": True},
        "allow_from": ["friend@bad.example"],
        "virus_scan": True,
    },
    "hanako@example.jp": {"spam_scan": {"enabled": True, "quarantine": True, "notify": True}},
}
# The standard test string every spam engine scores as spam (SpamAssassin's GTUBE).
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
# 「【未承諾広告】セール」 as a mail program sends it (RFC 2047, ISO-2022-JP).
JAPANESE_SUBJECT = "=?ISO-2022-JP?B?GyRCIVpMJD41Qno5LTlwIVslOyE8JWsbKEI=?="


def start() -> int:
    if (RUN / STATE).exists():
        stop()
    rspamd = RspamdInstance(RUN / "rspamd", port=RSPAMD_PORT)
    rspamd.start()
    clamd = ClamdInstance(RUN / "clamd", port=CLAMD_PORT)
    stack = LocalStack(
        RUN,
        smtp_port=SMTP_PORT,
        reinject_port=REINJECT_PORT,
        web_port=WEB_PORT,
        submission_port=SUBMISSION_PORT,
        pop3_port=POP3_PORT,
        imap_port=IMAP_PORT,
        sasl_port=SASL_PORT,
        policy_port=POLICY_PORT,
        srs_forward_port=SRS_FORWARD_PORT,
        srs_reverse_port=SRS_REVERSE_PORT,
        with_web=True,
        with_srs=True,
        with_worker=True,
        with_dovecot=True,
        spam_engine=rspamd.url,
        clamd=clamd.url,
        extra_environment={
            "SEKISHO_MILTER_METRICS_LISTEN": f"127.0.0.1:{MILTER_METRICS_PORT}",
            "SEKISHO_WORKER_METRICS_LISTEN": f"127.0.0.1:{WORKER_METRICS_PORT}",
        },
    )
    try:
        clamd.start()
        stack.start()
    except BaseException:
        rspamd.stop()
        clamd.stop()
        raise
    assert clamd.process is not None
    state = {
        "pids": [*stack.pids(), clamd.process.pid],
        "postfix": str(RUN / "pf-etc"),
        "rspamd_pidfile": str(rspamd.pidfile),
    }
    (RUN / STATE).write_text(json.dumps(state))
    write_config(stack)
    seed(stack.database_url)
    wait_for_tcp(stack.web_port)
    print(instructions(stack, describe_accounts(stack.database_url)))
    return 0


def write_config(stack: LocalStack) -> Path:
    """The demo's settings as a configuration file, for `sekisho check` and the CLI."""
    lines = [
        f"{name.removeprefix('SEKISHO_').lower()} = {json.dumps(value, ensure_ascii=False)}"
        for name, value in sorted(stack.environment().items())
        if name.startswith("SEKISHO_")
    ]
    config = RUN / "sekisho.toml"
    config.write_text(
        "# Written by `make demo`: the demo stack's settings.\n" + "\n".join(lines) + "\n"
    )
    return config


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


def reset() -> int:
    """Back to the state `start` left: the demo's store holds only the seeded domain, accounts
    and rules (no logins, lockouts, history, quarantine rows or outbox); the Maildirs are
    empty, and so is Postfix's queue when the demo runs. Works on a running demo: the new
    accounts and entries get new ids, so no process keeps a cached snapshot or a hit count
    of the old ones."""
    config = RUN / "sekisho.toml"
    if not config.exists():
        print("sekisho demo has not been started here: nothing to reset")
        return 1
    settings = load_settings(config, environ={})
    if (RUN / STATE).exists():  # mail queued before the reset must not arrive after it
        postfix = json.loads((RUN / STATE).read_text())["postfix"]
        subprocess.run(["postsuper", "-c", postfix, "-d", "ALL"], check=True, capture_output=True)
    store = Store(settings.database_url)
    with store.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):  # children before parents
            session.execute(delete(table))
    store.dispose()
    seed(settings.database_url)
    mail_root = Path(settings.mail_root)
    for domain in mail_root.glob("*/"):
        shutil.rmtree(domain)  # Postfix and the milter create the Maildirs again
    print("sekisho demo is back at its first state (store, Maildirs, lockouts).\n")
    print(describe_accounts(settings.database_url))
    return 0


INDENT = " " * 15  # the banner's second column


def describe_accounts(database_url: str) -> str:
    """The accounts as the store has them now: the password if it is still the demo's,
    a lockout, and every setting that is not off."""
    store = Store(database_url)
    lines = []
    with store.read() as session:
        for address, password in ACCOUNTS.items():
            account = accounts.find_account(session, address)
            if account is None:
                lines.append(f"{INDENT}{address}: no such account (`make demo-reset` adds it)")
                continue
            known = accounts.authenticate(session, address, password) is not None
            login = password if known else "(password changed; `make demo-reset` restores it)"
            lines.append(f"{INDENT}{address} / {login}")
            if account.status != "active":
                lines.append(f"{INDENT}  status {account.status}")
            until = audit.throttled_until(session, address, "127.0.0.1", utcnow())
            if until is not None:
                tokyo = until.astimezone(TOKYO)
                lines.append(
                    f"{INDENT}  web login locked until {tokyo:%H:%M} (Japan; failed logins)"
                )
            lines.extend(
                f"{INDENT}  {line}" for line in settings_lines(export_settings(session, address))
            )
    store.dispose()
    return "\n".join(lines)


def settings_lines(document: dict[str, Any]) -> list[str]:
    """One line per setting that is on, named as the web UI's screens name them."""
    lines = [
        f"{label}: {', '.join(document[key])}"
        for key, label in (("reject_from", "From reject list"), ("reject_subject", "Subject list"))
        if document[key]
    ]
    checks = [HEADER_CHECKS[name] for name, on in document["reject_header"].items() if on]
    if checks:
        lines.append(f"header checks: {', '.join(checks)}")
    if document["allow_from"]:
        lines.append(f"allow list: {', '.join(document['allow_from'])}")
    spam = document["spam_scan"]
    if spam["enabled"]:
        action = "quarantine" if spam["quarantine"] else "[spam] tag"
        notices = ", notices" if spam["notify"] else ""
        lines.append(f"spam scan on ({action}{notices})")
    if document["virus_scan"]:
        lines.append("virus scan on")
    for target in document["forwarding"]:
        lines.append(f"forwarding to {target['to']} ({'残す' if target['keep'] else '残さない'})")
    if document["auto_reply"]["enabled"]:
        lines.append("auto-reply on")
    if document["abroad_send_unlocked_until"]:
        lines.append(f"sending from abroad lifted until {document['abroad_send_unlocked_until']}")
    return lines or ["no rules"]


def instructions(stack: LocalStack, accounts_now: str) -> str:
    return f"""
sekisho demo is running (everything on 127.0.0.1; stop it with `make demo-stop`).

  Web UI       {stack.web_url}/login
  Accounts     read from the store now (`make demo-reset` brings back the first state):
{accounts_now}
  SMTP in      127.0.0.1:{stack.smtp_port}  (Postfix with the sekisho milter)
  Submission   127.0.0.1:{stack.submission_port}  (SASL through Dovecot: address + POP password)
  POP3         127.0.0.1:{stack.pop3_port}  (Dovecot; the same passwords as the web UI)
  IMAP         127.0.0.1:{stack.imap_port}  (Dovecot; the quarantine is the folder "Junk")
  Auth policy  127.0.0.1:{stack.policy_port}  (sekisho policy: the web's login lockout for \
POP3, IMAP, submission)
  clamd        {stack.clamd}  (test signatures: EICAR, and a marker inside a zip)
  Re-injection 127.0.0.1:{stack.reinject_port} (no milter; the worker sends notices here)
  postsrsd     127.0.0.1:{stack.srs_forward_port} forward, :{stack.srs_reverse_port} reverse \
(SRS for forwarded mail)
  Spam engine  {stack.spam_engine}
  Maildirs     {stack.mail_root}/example.jp/<user>/  (quarantine: .Junk/)
  Logs         {stack.run}/postfix.log  milter.log  web.log  worker.log  policy.log
  Metrics      http://127.0.0.1:{MILTER_METRICS_PORT}/metrics (milter) \
http://127.0.0.1:{WORKER_METRICS_PORT}/metrics (worker)
  Check        SEKISHO_CONFIG={stack.run}/sekisho.toml .venv/bin/sekisho check

Try it:
  swaks --server 127.0.0.1:{stack.smtp_port} --from someone@bad.example \\
        --to taro@example.jp,hanako@example.jp --header "Subject: hello from bad.example"

  -> hanako gets it in {stack.mail_root}/example.jp/hanako/new/
  -> taro's copy is in {stack.mail_root}/example.jp/taro/.Junk/new/ and on the
     迷惑メールフォルダ page: log in as taro at {stack.web_url}/login

More to try (the outcomes are those of the first state):
  swaks --server 127.0.0.1:{stack.smtp_port} --from shop@ads.example --to taro@example.jp \\
        --header "Subject: {JAPANESE_SUBJECT}"
  -> quarantined by the Subject list (the subject reads 【未承諾広告】セール)
  swaks --server 127.0.0.1:{stack.smtp_port} --from friend@bad.example --to taro@example.jp
  -> delivered to taro's inbox: the allow list wins over the From reject list
  swaks --server 127.0.0.1:{stack.smtp_port} --from shop@ads.example --to hanako@example.jp \\
        --header "Subject: big offer" --body '{GTUBE}'
  -> rspamd scores it as spam: it lands in hanako's .Junk/new/, and the worker sends
     hanako a 隔離通知メール (in {stack.mail_root}/example.jp/hanako/new/) whose link
     opens a page that moves the mail back to the inbox
  swaks --server 127.0.0.1:{stack.smtp_port} --from friend@bad.example --to taro@example.jp \\
        --header "Subject: invoice" --body '{EICAR.decode()}'
  -> clamd finds EICAR: the mail is removed and taro gets a virus report in his inbox
     with the original attached, the infected part replaced by a notice
  Read taro's mail over POP3:
  curl -s pop3://127.0.0.1:{stack.pop3_port}/ --user taro@example.jp:taro1234
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
    RspamdInstance(Path(state["rspamd_pidfile"]).parent).stop()
    state_file.unlink()
    print("sekisho demo stopped")
    return 0


if __name__ == "__main__":
    commands = {"start": start, "reset": reset, "stop": stop}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(__doc__)
        raise SystemExit(2)
    raise SystemExit(commands[sys.argv[1]]())
