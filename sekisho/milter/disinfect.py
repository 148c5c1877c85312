"""The original of a virus report, with every infected part replaced by a short notice.

clamd names the virus of the whole message, not the part that carries it, so each leaf
MIME part is scanned on its own and replaced when infected. Each part is scanned once,
decoded: the file as the recipient's mail program would save it, which is what clamd's
file types (zip, PDF, Office …) and signatures work on. A part as it stands (its own
header fields and transfer encoding) is not taken by clamd for a mail it should decode
(measured: a base64 EICAR or zip part as it stands scans clean), so that second scan
found only what the decoded one finds too.

The result is scanned once more: when something infected remains (a virus the decoded
parts do not show, such as uuencode inside a text or a broken base64 that clamd's own
decoder reads, a virus in a header, or a message too broken to split), the whole body
goes and only the header fields are kept. The report never carries infected content.

The header fields alone are kept at once, without splitting, for a message past a MIME
cap (clamd did not look at all of it), with more leaf parts than ``disinfect_max_parts``
(each is a clamd request) or more bytes than ``disinfect_max_bytes`` (the parser holds
it several times over).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from email import message_from_bytes
from email.message import Message
from email.policy import compat32

from sekisho.milter.collected import Collected, header_line

log = logging.getLogger("sekisho.milter")
FindVirus = Callable[[bytes], str | None]
# What replaces a removed part: (virus name, the part's file name or "") → text.
RemovedText = Callable[[str, str], str]
_MIME_FIELDS = frozenset({"content-type", "content-transfer-encoding", "mime-version"})


def disinfected(
    mail: Collected, virus: str, find_virus: FindVirus, removed_text: RemovedText
) -> bytes:
    """The report's original of ``mail``, infected with ``virus``."""
    limits, shape = mail.limits, mail.shape
    if shape.over or shape.parts > limits.disinfect_parts or mail.size > limits.disinfect_bytes:
        log.info(
            "disinfect_skipped queue_id=%s depth=%d parts=%d bytes=%d",
            mail.queue_id,
            shape.depth,
            shape.parts,
            mail.size,
        )
        return headers_only(mail.kept_headers(), removed_text(virus, ""))
    try:
        return without_infected_parts(mail.content, find_virus, removed_text)
    except (RecursionError, ValueError) as error:
        # What Python's email package raises on a message it cannot take apart or put
        # back together (a boundary in UTF-8 cannot be written: UnicodeEncodeError; a
        # nesting its parser and the shape count read differently: RecursionError). The
        # same message comes again at every retry, so the report goes out without its
        # body rather than the mail being deferred for ever.
        log.warning("disinfect_failed queue_id=%s error=%r", mail.queue_id, error)
        return headers_only(mail.kept_headers(), removed_text(virus, ""))


def without_infected_parts(raw: bytes, find_virus: FindVirus, removed_text: RemovedText) -> bytes:
    message = message_from_bytes(raw, policy=compat32)
    for part in list(message.walk()):
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        virus = find_virus(payload if isinstance(payload, bytes) else b"")
        if virus is not None:
            _replace(part, removed_text(virus, part.get_filename() or ""))
    cleaned = message.as_bytes()
    remaining = find_virus(cleaned)
    if remaining is None:
        return cleaned
    return headers_only(message.items(), removed_text(remaining, ""))


def headers_only(headers: Iterable[tuple[str, str]], text: str) -> bytes:
    """The header fields but the MIME ones, byte for byte, with ``text`` as the body.

    Written out directly: the email package's generator cannot refold every field it
    is given (raw Shift_JIS beside an encoded-word raises TypeError in email.header).
    """
    kept = b"".join(
        header_line(name, value) for name, value in headers if name.lower() not in _MIME_FIELDS
    )
    notice = Message(policy=compat32)
    notice.set_payload(text, charset="utf-8")
    return kept + notice.as_bytes()  # MIME-Version, Content-Type, encoding, the text


def _replace(part: Message, text: str) -> None:
    for name in ("Content-Type", "Content-Transfer-Encoding", "Content-Disposition"):
        del part[name]
    part.set_payload(text, charset="utf-8")
