"""自動返信設定 (docs/features.md §7): the setting, its checks, and when a mail gets a reply.

A mailbox replies with its default message, or with the message of the first per-sender
entry whose pattern covers the envelope sender, where the reply goes (a suffix match, as
in the From reject list): a forged From cannot obtain another sender's text. A
reply goes at most once per sender per REPLY_INTERVAL, whatever text was used (the
worker keeps that record). Never to automatic mail, lists or bounces: RFC 3834 §2,
RFC 5230 §4.5 and Pigeonhole's vacation extension, see ``refusal``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email.utils import getaddresses

from sekisho.rules.addresses import SuffixMatcher, normalize_address, split_address
from sekisho.rules.problems import N_, Problem
from sekisho.rules.validate import check_address_entry, stored_form

REPLY_INTERVAL = timedelta(hours=24)
# Japan Standard Time has had no daylight saving since 1951: a fixed offset is exact.
JAPAN = timezone(timedelta(hours=9), "JST")
# A reply text is a short notice ("away until …"); 2,000 characters is about a page.
MAX_MESSAGE_CHARS = 2000
# Per-sender texts: a few people (the boss, a client, family) get their own words.
MAX_SENDER_TEXTS = 10
REPLY_PREFIX = "Re: "
# Local parts that are systems, not people (Pigeonhole's list, RFC 3834 §2).
_SYSTEM_LOCAL_PARTS = frozenset({"mailer-daemon", "listserv", "majordomo"})
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_SUPPRESSING = frozenset({"all", "oof", "autoreply"})
_RECIPIENT_FIELDS = ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc")
# Tab and line feed are the only control characters a reply text keeps.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# A msg-id as it may be repeated in In-Reply-To and References: printable ASCII in <>.
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>")


@dataclass(frozen=True)
class SenderText:
    pattern: str  # as registered (stored form of a From-list entry)
    message: str


@dataclass(frozen=True)
class AutoReply:
    enabled: bool = False
    message: str = ""
    per_sender: tuple[SenderText, ...] = ()
    # Replies only from starts_on to ends_on, both included, in Japan's calendar.
    starts_on: date | None = None
    ends_on: date | None = None

    def active_on(self, day: date) -> bool:
        return (
            self.enabled
            and (self.starts_on is None or self.starts_on <= day)
            and (self.ends_on is None or day <= self.ends_on)
        )

    def text_for(self, senders: Iterable[str]) -> str:
        """The message for the first of ``senders`` a per-sender pattern covers (the
        milter gives the envelope sender, where the reply goes)."""
        if self.per_sender:
            matcher = SuffixMatcher.build(entry.pattern for entry in self.per_sender)
            texts = {entry.pattern: entry.message for entry in self.per_sender}
            for sender in senders:
                pattern = matcher.match(sender)
                if pattern is not None:
                    return texts[pattern]
        return self.message


OFF = AutoReply()


def japan_day(moment: datetime) -> date:
    """The day in Japan at ``moment``: the start and end dates are days in Japan."""
    return moment.astimezone(JAPAN).date()


def normalized_text(text: str) -> str:
    """A reply text as kept and sent: line breaks as LF, trailing blanks of lines dropped."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def check_auto_reply(setting: AutoReply) -> list[Problem]:
    """Every broken rule of a setting about to be saved, each with its own message."""
    problems: list[Problem] = []
    if setting.enabled and not setting.message.strip():
        problems.append(Problem(N_("Enter the reply message.")))
    problems.extend(_text_problems(setting.message, None))
    if len(setting.per_sender) > MAX_SENDER_TEXTS:
        problems.append(
            Problem(
                N_("At most {maximum} per-sender messages can be set."),
                params={"maximum": MAX_SENDER_TEXTS},
            )
        )
    seen: set[str] = set()
    for number, entry in enumerate(setting.per_sender, start=1):
        if entry.pattern.strip():
            own = check_address_entry(entry.pattern, number)
        else:
            own = [Problem(N_("Line {line}: enter the sender (an address or a domain)."), number)]
        problems.extend(own)
        key = normalize_address(entry.pattern)
        if not own and key in seen:
            problems.append(
                Problem(N_("Line {line}: “{entry}” is listed twice."), number, entry.pattern)
            )
        seen.add(key)
        if not entry.message.strip():
            problems.append(
                Problem(N_("Line {line}: enter the message for “{entry}”."), number, entry.pattern)
            )
        problems.extend(_text_problems(entry.message, number))
    if setting.starts_on and setting.ends_on and setting.ends_on < setting.starts_on:
        problems.append(Problem(N_("The end date is before the start date.")))
    return problems


def _text_problems(text: str, line: int | None) -> list[Problem]:
    found = []
    if len(text) > MAX_MESSAGE_CHARS:
        found.append(
            Problem(
                N_("The message is {length} characters long; at most {limit} are allowed.")
                if line is None
                else N_(
                    "Line {line}: the message is {length} characters long; "
                    "at most {limit} are allowed."
                ),
                line,
                params={"length": len(text), "limit": MAX_MESSAGE_CHARS},
            )
        )
    if _CONTROL.search(text.replace("\r\n", "\n").replace("\r", "\n")):
        found.append(
            Problem(
                N_("The message contains a control character.")
                if line is None
                else N_("Line {line}: the message contains a control character."),
                line,
            )
        )
    return found


def cleaned(setting: AutoReply) -> AutoReply:
    """The setting as it is stored: texts normalised, patterns in their stored form."""
    return AutoReply(
        setting.enabled,
        normalized_text(setting.message),
        tuple(
            SenderText(stored_form(entry.pattern), normalized_text(entry.message))
            for entry in setting.per_sender
        ),
        setting.starts_on,
        setting.ends_on,
    )


def refusal(mailbox: str, sender: str, headers: Iterable[tuple[str, str]]) -> str | None:
    """Why this mail must get no auto-reply from ``mailbox``, or None when it may.

    ``sender`` is the envelope sender, where a reply goes (RFC 3834 §4).
    """
    address = normalize_address(sender)
    if not address:
        return "null_sender"
    local, domain = split_address(address)
    if not domain:
        return "no_domain"
    if (
        local in _SYSTEM_LOCAL_PARTS
        or local.startswith("owner-")
        or local.endswith("-owner")
        or "-request" in local
    ):
        return "system_sender"
    if address == normalize_address(mailbox):
        return "own_address"
    fields: dict[str, list[str]] = {}
    for name, value in headers:
        fields.setdefault(name.lower(), []).append(value)
    if any(name.startswith("list-") for name in fields):
        return "list"
    if any(_first_word(value) != "no" for value in fields.get("auto-submitted", [])):
        return "auto_submitted"
    if any(_first_word(value) in _BULK_PRECEDENCE for value in fields.get("precedence", [])):
        return "bulk"
    suppressed = {
        word.strip().lower()
        for value in fields.get("x-auto-response-suppress", [])
        for word in value.split(",")
    }
    if suppressed & _SUPPRESSING:
        return "suppressed"
    if any(
        _first_word(value.replace(";", " ")) == "multipart/report"
        for value in fields.get("content-type", [])
    ):
        return "report"
    addressed = {
        normalize_address(found)
        for name in _RECIPIENT_FIELDS
        for _, found in getaddresses(fields.get(name, []))
    }
    if normalize_address(mailbox) not in addressed:
        return "not_addressed"
    return None


def _first_word(value: str) -> str:
    words = value.strip().lower().split()
    return words[0] if words else ""


def reply_subject(original: str) -> str:
    """``Re: `` and the original subject (decoded, as a reader sees it) on one line;
    RFC 5322 §3.6.5: a subject that already starts with ``Re:`` gets no second one."""
    text = " ".join(original.split())
    if text.lower().startswith("re:"):
        return text
    return REPLY_PREFIX + text


def message_ids(value: str) -> list[str]:
    """The well-formed ``<…>`` ids in a Message-ID or References field, in order."""
    return _MESSAGE_ID.findall(value)
