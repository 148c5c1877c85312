"""What the SMTP session said of a message (Postfix's milter macros and callbacks), and
the Received field Postfix writes from it, which milters never see."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sekisho.rules.addresses import normalize_address

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Envelope:
    """The client's address, name and HELO, MAIL FROM, the recipients, a login: spam
    engines weigh them (reputation, HELO checks, MAIL FROM against From).

    Postfix shows milters the message without the Received field it adds itself, so an
    engine given only the message would not know where it came from. rspamd takes the
    envelope as request fields; spamd's protocol has no place for it, so spamd is given
    the Received field Postfix would have written (as spamass-milter does), and so are
    the copies the milter writes into a Maildir itself (quarantine, tagged copy).
    """

    sender: str = ""  # MAIL FROM as Postfix passed it, "<>" for a bounce
    recipients: tuple[str, ...] = ()
    client_address: str = ""  # "" for a local socket
    client_name: str = ""  # the client's verified name, "unknown" without one
    helo: str = ""
    queue_id: str = ""
    login: str = ""  # the SASL login of a submission
    server_name: str = ""  # this MTA ($myhostname, the milter macro j)


def delivery_fields(sender: str, recipient: str, envelope: Envelope) -> bytes:
    """The fields a local delivery by Postfix puts on top of a message (Return-Path,
    X-Original-To, Delivered-To): a copy the milter writes into ``recipient``'s Maildir
    itself reads like one Postfix delivered."""
    lines = (
        f"Return-Path: <{sender}>\n"
        f"X-Original-To: {_as_given(recipient, envelope)}\n"
        f"Delivered-To: {recipient}\n"
    )
    return lines.encode("utf-8", "surrogateescape")


def _as_given(recipient: str, envelope: Envelope) -> str:
    """The recipient as the client wrote it in RCPT TO, without its angle brackets."""
    for given in envelope.recipients:
        if normalize_address(given) == recipient:
            return CONTROL.sub("", given.strip().strip("<>"))
    return recipient


def postfix_received_field(envelope: Envelope, date: str, show_login: bool = True) -> bytes:
    """The Received field Postfix writes for this client, or nothing for a local socket.

    SpamAssassin reads the client's address, name and HELO, and the login, from it; a
    value holding a control character leaves the whole field out. ``show_login=False``
    writes it as Postfix does by default (smtpd_sasl_authenticated_header = no).
    """
    client = envelope.client_address
    values = (client, envelope.client_name, envelope.helo, envelope.login, envelope.queue_id)
    if not client or any(CONTROL.search(value) for value in values):
        return b""
    bracketed = f"IPv6:{client}" if ":" in client else client
    lines = [
        f"Received: from {envelope.helo or 'unknown'} "
        f"({envelope.client_name or 'unknown'} [{bracketed}])"
    ]
    if envelope.login and show_login:
        lines.append(f"\t(Authenticated sender: {envelope.login})")
    protocol = "ESMTPA" if envelope.login else "ESMTP"
    lines.append(
        f"\tby {envelope.server_name or 'localhost'} (Postfix) with {protocol}"
        + (f" id {envelope.queue_id}" if envelope.queue_id else "")
    )
    lines[-1] += f"; {date}"
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
