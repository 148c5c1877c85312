"""A private clamd (Debian's clamav-daemon) on 127.0.0.1 with a signature database made here.

No freshclam and no network: the database folder gets two signatures written at start.
- ``Sekisho.Test.EICAR``: the EICAR test string, found attached or pasted in a body.
- ``Sekisho.Test.Zipped``: a marker text that stands for a virus; the tests hide it in a
  zip attachment, so finding it proves clamd's archive scanning is on.
clamd appends ``.UNOFFICIAL`` to custom signature names. ``stream_max_length`` sets
StreamMaxLength (an operator sets it at or above Postfix's message_size_limit).
``local_socket`` adds a unix socket (mode 0666, so clamav-milter and sekisho may use it)
and makes it the ``url``; the TCP port stays open.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sekisho.devstack.ports import free_port
from sekisho.devstack.processes import start_daemon, stop_process

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
ZIPPED_MARKER = b"SEKISHO-TEST-VIRUS-IN-A-ZIP-7f3a9c1e"
SIGNATURES = {
    "Sekisho.Test.EICAR": EICAR,
    "Sekisho.Test.Zipped": ZIPPED_MARKER,
}


@dataclass
class ClamdInstance:
    run: Path
    port: int = field(default_factory=free_port)
    stream_max_length: str = "25M"
    local_socket: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.run / "clamd.sock"

    @property
    def url(self) -> str:
        if self.local_socket:
            return f"unix:{self.socket_path}"
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.run / "clamd.log"

    def configure(self) -> Path:
        database = self.run / "clamd-db"
        database.mkdir(parents=True, exist_ok=True)
        (database / "sekisho-test.ndb").write_text(
            "".join(f"{name}:0:*:{pattern.hex()}\n" for name, pattern in SIGNATURES.items())
        )
        config = self.run / "clamd.conf"
        config.write_text(
            "\n".join(
                [
                    "Foreground yes",
                    f"DatabaseDirectory {database}",
                    "TCPAddr 127.0.0.1",
                    f"TCPSocket {self.port}",
                    *(
                        [f"LocalSocket {self.socket_path}", "LocalSocketMode 666"]
                        if self.local_socket
                        else []
                    ),
                    f"StreamMaxLength {self.stream_max_length}",
                    "ScanArchive yes",
                    "SelfCheck 0",
                    "Bytecode no",
                    "User root",
                    f"LogFile {self.log_file}",
                    "LogTime yes",
                    "",
                ]
            )
        )
        return config

    def start(self, timeout: float = 30.0) -> None:
        config = self.configure()
        self.process = start_daemon(
            ["clamd", "-c", str(config)], self.log_file, [self.port], "clamd", timeout
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
