"""The original of a virus report, with every infected part replaced by a short notice.

clamd names the virus of the whole message, not the part that carries it, so each leaf
MIME part is scanned on its own (decoded, and as it stands) and replaced when infected.
The result is scanned once more: when something infected remains (a virus the parts do
not show alone, in a header, or a message too broken to split), the whole body goes and
only the header fields are kept. The report never carries infected content.
"""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes
from email.message import Message
from email.policy import compat32

FindVirus = Callable[[bytes], str | None]
# What replaces a removed part: (virus name, the part's file name or "") → text.
RemovedText = Callable[[str, str], str]


def without_infected_parts(raw: bytes, find_virus: FindVirus, removed_text: RemovedText) -> bytes:
    message = message_from_bytes(raw, policy=compat32)
    for part in list(message.walk()):
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        decoded = payload if isinstance(payload, bytes) else b""
        virus = find_virus(decoded) or find_virus(part.as_bytes())
        if virus is not None:
            _replace(part, removed_text(virus, part.get_filename() or ""))
    cleaned = message.as_bytes()
    remaining = find_virus(cleaned)
    if remaining is None:
        return cleaned
    return _headers_only(message, removed_text(remaining, ""))


def _replace(part: Message, text: str) -> None:
    for name in ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition"):
        del part[name]
    part.set_payload(text, charset="utf-8")


def _headers_only(message: Message, text: str) -> bytes:
    stripped = Message(policy=compat32)
    for name, value in message.items():
        if name.lower() not in {"content-type", "content-transfer-encoding", "mime-version"}:
            stripped[name] = value
    stripped.set_payload(text, charset="utf-8")
    return stripped.as_bytes()
