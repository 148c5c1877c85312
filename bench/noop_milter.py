"""The floor of the milter benchmark: a pymilter milter that receives everything, decides nothing.

It asks for the same callbacks a content filter needs (MAIL FROM, RCPT TO, every header,
end of headers, the body, end of message) and answers each with CONTINUE, so its cost is
libmilter's protocol plus one Python call per callback. Like sekisho it turns off the
connect, HELO, DATA and unknown-command callbacks (Milter.Base's defaults) but, unlike
sekisho, it waits for a reply at every step (no @noreply) and never accepts early.

Run as its own process (libmilter is process-global)::

    python bench/noop_milter.py --listen unix:/run/x/noop.sock
    python bench/noop_milter.py --listen inet:127.0.0.1:8891 [--nodelay]

``--listen`` takes Postfix syntax. The callback wiring is sekisho's (the same as
Milter.runmilter's); ``--nodelay`` applies sekisho's TCP_NODELAY trick to the listening
socket, without it this is libmilter exactly as pymilter ships it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import Milter
import milter

from sekisho.milter.server import (
    disable_nagle_on_listener,
    libmilter_address,
    register_callbacks,
)

CONTINUE: int = Milter.CONTINUE


class NoopMilter(Milter.Base):  # type: ignore[misc]  # pymilter ships no type hints
    def envfrom(self, sender: str, *params: str) -> int:
        return CONTINUE

    def envrcpt(self, recipient: str, *params: str) -> int:
        return CONTINUE

    def header(self, name: str, value: str) -> int:
        return CONTINUE

    def eoh(self) -> int:
        return CONTINUE

    def body(self, chunk: bytes) -> int:
        return CONTINUE

    def eom(self) -> int:
        return CONTINUE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="unix:/path or inet:127.0.0.1:PORT")
    parser.add_argument("--nodelay", action="store_true", help="TCP_NODELAY on the listener")
    options = parser.parse_args()

    Milter.factory = NoopMilter
    register_callbacks("noop")
    address = libmilter_address(options.listen)
    milter.setconn(address)
    milter.settimeout(60)
    milter.opensocket(True)
    if address.startswith("unix:"):
        # Postfix's smtpd runs as the postfix user.
        Path(address.removeprefix("unix:")).chmod(0o666)
    elif options.nodelay:
        disable_nagle_on_listener(int(address.split(":")[1].split("@")[0]))
    milter.main()


if __name__ == "__main__":
    main()
