"""A private postsrsd (Debian's package) on 127.0.0.1: the SRS lookups of the local stack.

The forward lookup is what the milter asks (``srs_lookup``), the reverse one what
Postfix's recipient_canonical_maps ask (deploy/postfix/main-srs.cf). ``domain`` is the
SRS domain rewritten senders get; the other local domains are excluded from rewriting.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sekisho.devstack.ports import free_port
from sekisho.devstack.processes import start_daemon, stop_process


@dataclass
class PostsrsdInstance:
    run: Path
    domain: str
    excluded_domains: tuple[str, ...] = ()
    forward_port: int = field(default_factory=free_port)
    reverse_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def forward_lookup(self) -> str:
        return f"127.0.0.1:{self.forward_port}"

    def start(self, timeout: float = 15.0) -> None:
        secret = self.run / "postsrsd.secret"
        if not secret.exists():
            secret.write_text(secrets.token_urlsafe(32) + "\n")
            secret.chmod(0o600)
        command = [
            "postsrsd",
            f"-s{secret}",
            f"-d{self.domain}",
            "-l127.0.0.1",
            "-4",
            f"-f{self.forward_port}",
            f"-r{self.reverse_port}",
        ]
        if self.excluded_domains:
            command.append("-X" + ",".join(self.excluded_domains))
        self.process = start_daemon(
            command,
            self.run / "postsrsd.log",
            [self.forward_port, self.reverse_port],
            "postsrsd",
            timeout,
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
