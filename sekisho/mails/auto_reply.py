"""The auto-reply mail itself, built by the worker from what the milter kept of the mail.

Only the owner's own text and the mailbox's address are ours; the subject, Message-ID
and References come from the mail being answered, so none is copied as a raw line: the
subject (kept decoded) is encoded again, the ids are well-formed ``<…>`` tokens only.
RFC 3834 §3.1: ``Auto-Submitted: auto-replied``, In-Reply-To and References;
``X-Auto-Response-Suppress: All`` asks Exchange not to answer the answer.
"""

from __future__ import annotations

from datetime import datetime
from email.header import Header
from email.message import Message
from email.utils import format_datetime, make_msgid

from sekisho.mailparts import utf8_text
from sekisho.rules.auto_reply import message_ids, reply_subject

AUTO_REPLY_HEADER = "X-Sekisho-Auto-Reply"
# A long thread's References are cut to the first id and the latest ones (RFC 5322 §3.6.4
# allows it); header lines stay short.
_MAX_REFERENCES = 10


def compose_auto_reply(details: dict[str, str], to: str, now: datetime) -> Message:
    """The reply of ``details["mailbox"]`` to ``to`` with the owner's ``details["text"]``."""
    mailbox = details["mailbox"]
    message: Message = utf8_text(details["text"].rstrip("\n") + "\n")
    subject = reply_subject(details.get("subject", ""))
    message["From"] = mailbox
    message["To"] = to
    # compat32 encodes a Header on output (typeshed allows only str).
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")  # type: ignore[assignment]
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=mailbox.rpartition("@")[2])
    original = message_ids(details.get("message_id", ""))[:1]
    if original:
        message["In-Reply-To"] = original[0]
        thread = [*message_ids(details.get("references", "")), original[0]]
        if len(thread) > _MAX_REFERENCES:
            thread = [thread[0], *thread[-(_MAX_REFERENCES - 1) :]]
        message["References"] = " ".join(thread)
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    message[AUTO_REPLY_HEADER] = mailbox
    return message
