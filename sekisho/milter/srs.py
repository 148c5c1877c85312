"""The envelope sender of forwarded mail, rewritten by postsrsd (Sender Rewriting Scheme).

A forwarded copy leaves with the original sender's address as its envelope sender, and
the next hop's SPF check of that domain fails for our servers. postsrsd rewrites it to
``SRS0=hash=time=domain=local@<our SRS domain>``; Postfix's recipient_canonical_maps
(deploy/postfix/main-srs.cf) turn a bounce to that address back into the original one.

The lookup speaks Postfix's tcp_table(5) protocol, which postsrsd serves: ``get KEY``
answered by ``200 VALUE``, ``500`` (no such key: postsrsd's answer for a domain it
excludes) or ``400`` (try again), with ``%XX``
for whitespace, control characters and ``%`` itself.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import quote, unquote

from sekisho.sockets import read_until

# Printable ASCII except space and "%": what tcp_table sends as it is.
_AS_IS = "".join(chr(code) for code in range(33, 127) if chr(code) != "%")


class SrsError(RuntimeError):
    """postsrsd gave no usable answer: a forwarded copy must not leave unrewritten."""


@dataclass(frozen=True)
class PostsrsdLookup:
    """postsrsd's forward lookup at ``host:port``."""

    address: str
    timeout: float = 5.0

    def forward(self, sender: str) -> str:
        """``sender`` as forwarded copies carry it; postsrsd keeps the local domains'."""
        host, _, port = self.address.rpartition(":")
        request = f"get {quote(sender, safe=_AS_IS)}\n".encode("ascii")
        try:
            with socket.create_connection((host, int(port)), timeout=self.timeout) as connection:
                connection.sendall(request)
                answer = read_until(connection, b"\n").decode("ascii", "replace").strip()
        except OSError as error:
            raise SrsError(f"postsrsd {self.address}: {error}") from error
        code, _, value = answer.partition(" ")
        if code == "200" and value:
            return unquote(value)
        if code == "500":  # "no such key": an excluded domain, or nothing to rewrite
            return sender
        raise SrsError(f"postsrsd {self.address} answered {answer!r} for {sender!r}")
