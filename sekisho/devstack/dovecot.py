"""A private Dovecot on 127.0.0.1 built from deploy/dovecot/ (so those cannot rot).

POP3 and IMAP on the mailboxes' Maildirs with the SQL passdb on sekisho's own SQLite
store, and an auth listener Postfix's submission uses for SASL (``smtpd_sasl_type =
dovecot``, on TCP here): the login is the mail address and the POP password, as the web
UI's. ``auth_cache_size = 0`` so a changed password applies at once;
``auth_failure_delay = 0`` and the open anvil penalty socket so a test's failed login
does not slow the next one. With ``policy_url``, Dovecot asks that ``sekisho policy``
(92-sekisho-auth-policy.conf, with its API key) before each login and reports after it.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sekisho.devstack.ports import free_port
from sekisho.devstack.postfix import VMAIL_UID
from sekisho.devstack.processes import start_daemon, stop_process

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "dovecot"


@dataclass
class DovecotInstance:
    run: Path
    sqlite_store: Path
    mail_root: Path
    pop3_port: int = field(default_factory=free_port)
    imap_port: int = field(default_factory=free_port)
    auth_port: int = field(default_factory=free_port)
    # The auth policy server (http://127.0.0.1:PORT/) and its key; "": no lockout.
    policy_url: str = ""
    policy_api_key: str = ""
    process: subprocess.Popen[bytes] | None = None

    @property
    def folder(self) -> Path:
        return self.run / "dovecot"

    @property
    def log_file(self) -> Path:
        return self.folder / "dovecot.log"

    def configure(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        sql = self.folder / "sekisho-sql.conf.ext"
        sql.write_text(
            (DEPLOY / "sekisho-sql.conf.ext")
            .read_text()
            .replace("/var/lib/sekisho/sekisho.db", str(self.sqlite_store))
        )
        fragment = (
            (DEPLOY / "90-sekisho.conf")
            .read_text()
            .replace("/etc/dovecot/sekisho-sql.conf.ext", str(sql))
            .replace("/var/mail/vhosts", str(self.mail_root))
            .replace("uid=vmail gid=vmail", f"uid={VMAIL_UID} gid={VMAIL_UID}")
        )
        config = self.folder / "dovecot.conf"
        config.write_text(
            fragment
            + self._policy_fragment()
            + f"""
# --- private test instance (devstack) ---
base_dir = {self.folder / "base"}
state_dir = {self.folder / "state"}
log_path = {self.log_file}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_cache_size = 0
auth_failure_delay = 0
first_valid_uid = {VMAIL_UID}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service auth {{
  inet_listener {{
    address = 127.0.0.1
    port = {self.auth_port}
  }}
}}
# The test store's folder is group postfix; the SQL lookups run as root here.
service auth-worker {{
  user = root
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
        )
        return config

    def _policy_fragment(self) -> str:
        if not self.policy_url:
            return ""
        return (
            (DEPLOY / "92-sekisho-auth-policy.conf")
            .read_text()
            .replace("http://127.0.0.1:8895/", self.policy_url)
            .replace(
                "#auth_policy_server_api_header = <policy_api_key>",
                f"auth_policy_server_api_header = {self.policy_api_key}",
            )
        )

    def start(self, timeout: float = 20.0) -> None:
        config = self.configure()
        self.process = start_daemon(
            ["dovecot", "-F", "-c", str(config)],
            self.log_file,
            [self.auth_port, self.pop3_port, self.imap_port],
            "Dovecot",
            timeout,
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
