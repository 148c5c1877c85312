"""The floor of the milter benchmark: a pymilter milter that receives everything, decides nothing.

It asks for the same callbacks a content filter needs (MAIL FROM, RCPT TO, every header,
end of headers, the body, end of message) and answers each with CONTINUE, so its cost is
libmilter's protocol plus one Python call per callback. Like sekisho it turns off the
connect, HELO, DATA and unknown-command callbacks (Milter.Base's defaults) but, unlike
sekisho, it waits for a reply at every step (no @noreply) and never accepts early.

Run as its own process (libmilter is process-global)::

    python bench/noop_milter.py --listen unix:/run/x/noop.sock
    python bench/noop_milter.py --listen inet:127.0.0.1:8891 [--nodelay]

``--listen`` takes Postfix syntax. ``--nodelay`` applies sekisho's TCP_NODELAY trick to
the listening socket (sekisho.milter.server._disable_nagle_on_listener, repeated here
with the descriptor of listdir itself skipped); without it this is libmilter exactly as
pymilter ships it.
"""

from __future__ import annotations

import argparse
import os
import socket
from pathlib import Path

import Milter
import milter

from sekisho.milter.server import libmilter_address

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


def _register() -> None:
    """Milter.runmilter's wiring, which leaves no hook between opening the socket and main."""
    milter.set_connect_callback(Milter.connect_callback)
    milter.set_helo_callback(lambda ctx, host: ctx.getpriv().hello(host))
    milter.set_envfrom_callback(lambda ctx, *b: ctx.getpriv().envfrom_bytes(*b))
    milter.set_envrcpt_callback(lambda ctx, *b: ctx.getpriv().envrcpt_bytes(*b))
    milter.set_header_callback(lambda ctx, f, v: ctx.getpriv().header_bytes(f, v))
    milter.set_eoh_callback(lambda ctx: ctx.getpriv().eoh())
    milter.set_body_callback(lambda ctx, chunk: ctx.getpriv().body(chunk))
    milter.set_eom_callback(lambda ctx: ctx.getpriv().eom())
    milter.set_abort_callback(lambda ctx: ctx.getpriv().abort())
    milter.set_close_callback(Milter.close_callback)
    milter.register(
        "noop",
        data=lambda ctx: ctx.getpriv().data(),
        unknown=lambda ctx, cmd: ctx.getpriv().unknown(cmd),
        negotiate=Milter.negotiate_callback,
    )


def disable_nagle_on_listener(port: int) -> None:
    """TCP_NODELAY on libmilter's listening socket; Linux copies it to accepted sockets."""
    for name in os.listdir("/proc/self/fd"):
        try:
            duplicate = os.dup(int(name))
        except OSError:  # the descriptor listdir read the folder with, closed by now
            continue
        try:
            probe = socket.socket(fileno=duplicate)
        except OSError:
            os.close(duplicate)
            continue
        with probe:
            try:
                listening = probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                if listening and probe.family == socket.AF_INET and probe.getsockname()[1] == port:
                    probe.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="unix:/path or inet:127.0.0.1:PORT")
    parser.add_argument("--nodelay", action="store_true", help="TCP_NODELAY on the listener")
    options = parser.parse_args()

    Milter.factory = NoopMilter
    _register()
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
