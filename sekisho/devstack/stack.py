"""The local stack: store + Postfix + sekisho milter (+ web UI, worker), all on 127.0.0.1.

Used by the end-to-end tests, the benchmark and ``make demo``; every port and path is
in this one object.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from sekisho.devstack.dovecot import DovecotInstance
from sekisho.devstack.ports import free_port, wait_for_tcp
from sekisho.devstack.postfix import VMAIL_UID, PostfixInstance
from sekisho.devstack.postsrsd import PostsrsdInstance
from sekisho.devstack.processes import (
    SekishoProcess,
    milter_process,
    web_process,
    worker_process,
)
from sekisho.store.migrate import upgrade


@dataclass
class LocalStack:
    run: Path
    database_url: str = ""
    milter_transport: str = "unix"  # or "inet"
    policy_refresh_seconds: float = 1.0
    with_web: bool = False
    with_worker: bool = False
    # Dovecot (POP3, and SASL for the submission listener) on the stack's own store, with
    # `sekisho policy` as its auth policy server (the web login's lockout).
    with_dovecot: bool = False
    # postsrsd, asked by the milter for forwarded mail and by Postfix for bounces to SRS.
    with_srs: bool = False
    # 0: a notice per quarantined copy at once (what a demo or a test wants to see).
    notice_digest_minutes: int = 0
    # More SEKISHO_* settings for every sekisho process (a test's country database …).
    extra_environment: dict[str, str] = field(default_factory=dict)
    # "host:port" that Postfix relays every non-local recipient to (a test's next hop).
    relay: str = ""
    # More main.cf settings for the stack's Postfix (a test's milter timeouts …).
    postfix_main: dict[str, str] = field(default_factory=dict)
    # The milter's spam engine (rspamd://… or spamd://…); the default points at a closed
    # port, so a mailbox that turns the scan on gets its mail deferred, never unscanned.
    spam_engine: str = "rspamd://127.0.0.1:9"
    # clamd likewise: a mailbox that turns the virus scan on gets its mail deferred.
    clamd: str = "tcp://127.0.0.1:9"
    domains: tuple[str, ...] = ("example.jp",)
    smtp_port: int = field(default_factory=free_port)
    reinject_port: int = field(default_factory=free_port)
    web_port: int = field(default_factory=free_port)
    milter_port: int = field(default_factory=free_port)
    submission_port: int = field(default_factory=free_port)
    pop3_port: int = field(default_factory=free_port)
    imap_port: int = field(default_factory=free_port)
    sasl_port: int = field(default_factory=free_port)
    policy_port: int = field(default_factory=free_port)
    srs_forward_port: int = field(default_factory=free_port)
    srs_reverse_port: int = field(default_factory=free_port)
    postfix: PostfixInstance | None = None
    milter: SekishoProcess | None = None
    web: SekishoProcess | None = None
    worker: SekishoProcess | None = None
    policy: SekishoProcess | None = None
    dovecot: DovecotInstance | None = None
    postsrsd: PostsrsdInstance | None = None

    def __post_init__(self) -> None:
        self.run.mkdir(parents=True, exist_ok=True)
        # smtpd (user postfix) must reach the milter socket, virtual (uid 5000) the Maildirs.
        os.chmod(self.run, 0o755)  # noqa: S103 -- traversal only; files keep their modes
        if not self.database_url:
            self.database_url = f"sqlite:///{self._shared_sqlite_file()}"

    def _shared_sqlite_file(self) -> Path:
        """A SQLite store that Postfix (group postfix) can read while it is in WAL mode.

        A WAL reader must open (and may create) the -shm file: the folder is group
        writable, and SQLite gives -wal/-shm the owner and mode of the database file.
        """
        folder = self.run / "store"
        folder.mkdir(exist_ok=True)
        shutil.chown(folder, group="postfix")
        folder.chmod(0o2770)
        database = folder / "sekisho.db"
        database.touch(exist_ok=True)
        shutil.chown(database, group="postfix")
        database.chmod(0o660)
        return database

    @property
    def mail_root(self) -> Path:
        return self.run / "mail"

    @property
    def sqlite_path(self) -> Path:
        """The SQLite store Postfix reads the mailbox list from (the stack's own store)."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            raise ValueError("the local stack's Postfix reads its mailboxes from a SQLite store")
        return Path(self.database_url.removeprefix(prefix))

    @property
    def milter_listen(self) -> str:
        if self.milter_transport == "inet":
            return f"inet:127.0.0.1:{self.milter_port}"
        return f"unix:{self.run / 'milter.sock'}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def policy_api_key(self) -> str:
        return "policy-" + self.run.name

    def environment(self) -> dict[str, str]:
        return {
            "SEKISHO_DATABASE_URL": self.database_url,
            "SEKISHO_MAIL_ROOT": str(self.mail_root),
            "SEKISHO_MAILBOX_OWNER": f"{VMAIL_UID}:{VMAIL_UID}",
            "SEKISHO_MILTER_LISTEN": self.milter_listen,
            "SEKISHO_POLICY_REFRESH_SECONDS": str(self.policy_refresh_seconds),
            "SEKISHO_WEB_LISTEN": f"127.0.0.1:{self.web_port}",
            "SEKISHO_SECRET_KEY": "local-stack-" + self.run.name,
            "SEKISHO_SPAM_ENGINE": self.spam_engine,
            "SEKISHO_SPAM_TIMEOUT": "20",
            "SEKISHO_CLAMD": self.clamd,
            "SEKISHO_CLAMD_TIMEOUT": "20",
            "SEKISHO_REINJECT_SMTP": f"127.0.0.1:{self.reinject_port}",
            "SEKISHO_WEB_URL": self.web_url,
            "SEKISHO_NOTICE_DIGEST_MINUTES": str(self.notice_digest_minutes),
            "SEKISHO_WORKER_POLL_SECONDS": "0.2",
            "SEKISHO_POLICY_LISTEN": f"127.0.0.1:{self.policy_port}",
            "SEKISHO_POLICY_API_KEY": self.policy_api_key,
            **(
                {"SEKISHO_SRS_LOOKUP": f"127.0.0.1:{self.srs_forward_port}"}
                if self.with_srs
                else {}
            ),
            **self.extra_environment,
        }

    def start(self) -> None:
        """Start everything; on any failure stop what was already started."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        upgrade(self.database_url)
        environment = self.environment()
        if self.with_srs:
            self.postsrsd = PostsrsdInstance(
                self.run,
                self.domains[0],
                self.domains[1:],
                self.srs_forward_port,
                self.srs_reverse_port,
            )
            self.postsrsd.start()
        self.milter = milter_process(environment, self.milter_listen, self.run / "milter.log")
        if self.with_dovecot:
            self.start_policy()
            self.dovecot = DovecotInstance(
                self.run,
                self.sqlite_path,
                self.mail_root,
                pop3_port=self.pop3_port,
                imap_port=self.imap_port,
                auth_port=self.sasl_port,
                policy_url=f"http://127.0.0.1:{self.policy_port}/",
                policy_api_key=self.policy_api_key,
            )
            self.dovecot.start()
        self.postfix = PostfixInstance(
            run=self.run,
            mail_root=self.mail_root,
            smtp_port=self.smtp_port,
            reinject_port=self.reinject_port,
            milter=self.milter_listen,
            database_url=self.database_url,
            domains=self.domains,
            submission_port=self.submission_port if self.dovecot else 0,
            sasl_port=self.dovecot.auth_port if self.dovecot else 0,
            srs_reverse_port=self.postsrsd.reverse_port if self.postsrsd else 0,
            extra_main={
                **({"relayhost": f"[{self.relay.replace(':', ']:')}"} if self.relay else {}),
                **self.postfix_main,
            },
        )
        self.postfix.start()
        if self.with_web:
            self.web = web_process(environment, self.web_port, self.run / "web.log")
        if self.with_worker:
            self.worker = worker_process(environment, self.run / "worker.log")

    def start_policy(self) -> None:
        """`sekisho policy`, which Dovecot asks before each login (a test that stopped it
        brings it back with this)."""
        self.policy = SekishoProcess(("policy",), self.environment(), self.run / "policy.log")
        self.policy.start()
        try:
            wait_for_tcp(self.policy_port)
        except TimeoutError:
            self.policy.stop()
            raise TimeoutError(
                "the auth policy server did not start:\n" + self.policy.log_text()
            ) from None

    def stop(self) -> None:
        for process in (self.worker, self.web, self.policy, self.milter):
            if process is not None:
                process.stop()
        if self.postfix is not None:
            self.postfix.stop()
        if self.dovecot is not None:
            self.dovecot.stop()
        if self.postsrsd is not None:
            self.postsrsd.stop()

    def pids(self) -> list[int]:
        """The pids of the processes the stack started (Postfix is stopped through its
        config)."""
        pids = [
            process.process.pid
            for process in (self.milter, self.web, self.worker, self.policy)
            if process is not None and process.process is not None
        ]
        for daemon in (self.dovecot, self.postsrsd):
            if daemon is not None and daemon.process is not None:
                pids.append(daemon.process.pid)
        return pids

    def clear_mail(self) -> None:
        for domain in self.domains:
            shutil.rmtree(self.mail_root / domain, ignore_errors=True)
