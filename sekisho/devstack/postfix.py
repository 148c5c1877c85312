"""A private Postfix instance on 127.0.0.1 built from deploy/postfix/ (so those cannot rot).

Layout under ``run``: ``pf-etc/`` (main.cf, master.cf, maps), ``pf-spool/`` (queue),
``pf-data/``, ``postfix.log``. The mailbox list is sekisho's own store, SQLite or
PostgreSQL (deploy/postfix/mailboxes-{sqlite,pgsql}.cf: every account is a mailbox at
``<mail_root>/domain/local/``, as Dovecot's ``%d/%n``), delivered as ``vmail_uid``.
The inbound listener uses the milter, the re-injection listener does not.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from sekisho.devstack.ports import wait_for_tcp

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "postfix"
VMAIL_UID = 5000


@dataclass
class PostfixInstance:
    run: Path
    mail_root: Path
    smtp_port: int
    reinject_port: int
    milter: str  # Postfix syntax, or "" for no milter at all
    database_url: str  # sekisho's store (SQLite or PostgreSQL), which lists the mailboxes
    domains: tuple[str, ...] = ("example.jp",)
    vmail_uid: int = VMAIL_UID
    extra_main: dict[str, str] = field(default_factory=dict)
    # The submission listener of deploy/postfix/master.cf, on this port with SASL through
    # Dovecot's auth listener at ``sasl_port`` and without TLS (loopback tests); 0: none.
    submission_port: int = 0
    sasl_port: int = 0
    # deploy/postfix/main-srs.cf with postsrsd's reverse lookup on this port; 0: no SRS.
    srs_reverse_port: int = 0

    @property
    def etc(self) -> Path:
        return self.run / "pf-etc"

    @property
    def log_file(self) -> Path:
        return self.run / "postfix.log"

    def postconf(self, *args: str) -> None:
        subprocess.run(
            ["postconf", "-c", str(self.etc), *args], check=True, capture_output=True, text=True
        )

    def configure(self) -> None:
        self.etc.mkdir(parents=True, exist_ok=True)
        for folder in ("pf-spool",):
            (self.run / folder).mkdir(exist_ok=True)
        self.mail_root.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.mail_root, self.vmail_uid, self.vmail_uid)
        main = (DEPLOY / "main.cf").read_text() + self._base_main()
        if self.srs_reverse_port:
            main += (
                (DEPLOY / "main-srs.cf")
                .read_text()
                .replace("127.0.0.1:10002", f"127.0.0.1:{self.srs_reverse_port}")
            )
        (self.etc / "main.cf").write_text(main)
        master = Path("/etc/postfix/master.cf").read_text()
        fragment = (
            (DEPLOY / "master.cf")
            .read_text()
            .replace("127.0.0.1:10026", f"127.0.0.1:{self.reinject_port}")
        )
        reinject, _, submission = fragment.partition("\n# Submission")
        master += reinject + "\n"
        if self.submission_port:
            master += (
                ("# Submission" + submission)
                .replace("submission inet", f"127.0.0.1:{self.submission_port} inet")
                .replace("smtpd_tls_security_level=encrypt", "smtpd_tls_security_level=none")
                .replace("private/auth", f"inet:127.0.0.1:{self.sasl_port}")
                .replace(
                    "sqlite:/etc/postfix/sekisho-sender-logins.cf",
                    self._map("sender-logins"),
                )
            )
        master += f"127.0.0.1:{self.smtp_port} inet n - n - - smtpd\n"
        (self.etc / "master.cf").write_text(master)
        self.postconf("-M#", "smtp/inet")
        self.postconf("-F", "*/*/chroot = n")
        settings = {"sekisho_milter": self.milter, **self.extra_main}
        if not self.milter:
            settings["smtpd_milters"] = ""
        self.postconf("-e", *(f"{k}={v}" for k, v in settings.items()))
        self._write_mailbox_map()
        subprocess.run(["postfix", "-c", str(self.etc), "check"], check=True)

    def _base_main(self) -> str:
        return "\n".join(
            [
                "",
                "# --- private test instance (devstack) ---",
                "compatibility_level = 3.6",
                f"queue_directory = {self.run / 'pf-spool'}",
                f"data_directory = {self.run / 'pf-data'}",
                "myhostname = mx.sekisho.test",
                "mydomain = sekisho.test",
                "mydestination =",
                "inet_interfaces = 127.0.0.1",
                "inet_protocols = ipv4",
                "mynetworks = 127.0.0.0/8",
                # Test clients connect from 127.0.0.1, which Postfix treats as local and
                # whose headers it completes (a missing From or Date added, bare addresses
                # qualified). Mail to an MX comes from outside and is left as sent; the
                # header rules must see it that way.
                "local_header_rewrite_clients =",
                "disable_dns_lookups = yes",
                "smtpd_peername_lookup = no",
                f"maillog_file = {self.log_file}",
                f"maillog_file_prefixes = {self.run}",
                "alias_maps =",
                "alias_database =",
                "biff = no",
                f"virtual_mailbox_domains = {' '.join(self.domains)}",
                f"virtual_mailbox_maps = {self._map('mailboxes')}",
                f"virtual_mailbox_base = {self.mail_root}",
                f"virtual_uid_maps = static:{self.vmail_uid}",
                f"virtual_gid_maps = static:{self.vmail_uid}",
                "virtual_minimum_uid = 100",
                "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination",
                "smtpd_client_connection_count_limit = 0",
                "smtpd_client_message_rate_limit = 0",
                "default_process_limit = 100",
                "",
            ]
        )

    @property
    def _map_type(self) -> str:
        return (
            "pgsql" if make_url(self.database_url).get_backend_name() == "postgresql" else "sqlite"
        )

    def _map(self, name: str) -> str:
        """``type:path`` of one of deploy/postfix's maps on this instance's store."""
        return f"{self._map_type}:{self.etc / f'{name}-{self._map_type}.cf'}"

    def _write_mailbox_map(self) -> None:
        url = make_url(self.database_url)
        for name in ("mailboxes", "sender-logins"):
            file_name = f"{name}-{self._map_type}.cf"
            text = (DEPLOY / file_name).read_text()
            if self._map_type == "sqlite":
                text = text.replace("/var/lib/sekisho/sekisho.db", str(url.database))
            else:
                text = (
                    text.replace("inet:db.example.jp:5432", f"inet:{url.host}:{url.port or 5432}")
                    .replace("user = postfix", f"user = {url.username or ''}")
                    .replace("password = change-me", f"password = {url.password or ''}")
                    .replace("dbname = sekisho", f"dbname = {url.database}")
                )
            (self.etc / file_name).write_text(text)

    def start(self) -> None:
        self.configure()
        subprocess.run(["postfix", "-c", str(self.etc), "start"], check=True, capture_output=True)
        wait_for_tcp(self.smtp_port)
        wait_for_tcp(self.reinject_port)
        if self.submission_port:
            wait_for_tcp(self.submission_port)

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.etc), "stop"], check=False, capture_output=True)

    def queue_is_empty(self) -> bool:
        listing = subprocess.run(
            ["postqueue", "-c", str(self.etc), "-j"], check=True, capture_output=True, text=True
        ).stdout
        return not listing.strip()

    def wait_until_idle(self, timeout: float = 20.0) -> None:
        """Until the queue is empty: every accepted message delivered, bounced or deferred."""
        deadline = time.monotonic() + timeout
        while not self.queue_is_empty():
            if time.monotonic() > deadline:
                raise TimeoutError("Postfix queue did not drain:\n" + self.log_tail())
            time.sleep(0.05)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_file.exists():
            return ""
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
