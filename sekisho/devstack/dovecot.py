"""A private Dovecot on 127.0.0.1 whose passdb is sekisho's own SQLite store.

POP3 on the mailboxes' Maildirs, and an auth listener Postfix's submission uses for SASL
(``smtpd_sasl_type = dovecot``): the login is the mail address and the POP password, as
the web UI's. ``auth_cache_size = 0`` so a changed password applies at once;
``auth_failure_delay = 0`` and the open anvil penalty socket so a test's failed login
does not slow the next one.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sekisho.devstack.ports import free_port
from sekisho.devstack.postfix import VMAIL_UID
from sekisho.devstack.processes import start_daemon, stop_process

# Suspended accounts cannot log in (SPEC.md §2), not even for submission.
PASSDB_QUERY = (
    "SELECT address AS user, password_hash AS password FROM accounts "
    "WHERE address = '%u' AND status = 'active'"
)


@dataclass
class DovecotInstance:
    run: Path
    sqlite_store: Path
    mail_root: Path
    pop3_port: int = field(default_factory=free_port)
    auth_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def folder(self) -> Path:
        return self.run / "dovecot"

    @property
    def log_file(self) -> Path:
        return self.folder / "dovecot.log"

    def configure(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        sql = self.folder / "dovecot-sql.conf.ext"
        sql.write_text(
            f"driver = sqlite\nconnect = {self.sqlite_store}\npassword_query = {PASSDB_QUERY}\n"
        )
        config = self.folder / "dovecot.conf"
        config.write_text(
            f"""
base_dir = {self.folder / "base"}
state_dir = {self.folder / "state"}
log_path = {self.log_file}
listen = 127.0.0.1
protocols = pop3
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = 0
auth_failure_delay = 0
mail_location = maildir:{self.mail_root}/%d/%n
first_valid_uid = {VMAIL_UID}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
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
passdb {{
  driver = sql
  args = {sql}
}}
userdb {{
  driver = static
  args = uid={VMAIL_UID} gid={VMAIL_UID} home={self.mail_root}/%d/%n
}}
"""
        )
        return config

    def start(self, timeout: float = 20.0) -> None:
        config = self.configure()
        self.process = start_daemon(
            ["dovecot", "-F", "-c", str(config)],
            self.log_file,
            [self.auth_port, self.pop3_port],
            "Dovecot",
            timeout,
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
