"""転送設定 (docs/features.md §4): the targets of a mailbox, their checks, and what the milter does.

A mailbox may forward to at most MAX_TARGETS addresses: each is another copy leaving the
ISP under its name, and five covers a phone, a family member and a work address with room
to spare. Each target says 残す (keep) or 残さない; the mailbox keeps its copy unless every
target says 残さない. Loops: a forwarded copy carries FORWARD_TRACE naming the mailbox, and a
mail that already names this mailbox is delivered, never forwarded again (two mailboxes
forwarding to each other, or an outside address forwarding back, end after one round).

A sender could write that field into any mail and so switch a mailbox's forwarding off
for it; the trace therefore carries a MAC of the mailbox and the mail's Message-ID under
the installation's secret key, and a trace without a valid one is not believed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sekisho.rules.addresses import normalize_address, split_address
from sekisho.rules.problems import N_, Problem

MAX_TARGETS = 5
MAX_ADDRESS_LENGTH = 320
# A dot-atom local part and a domain of letters, digits and hyphens (IDNA already applied
# by normalize_address): nothing a header or an SMTP command could be bent with.
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_DOMAIN = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")
# The trace header: not a verdict, so the milter keeps an arriving one.
FORWARD_TRACE = "X-Sekisho-Forwarded"
_MAC_HEX_CHARS = 32


@dataclass(frozen=True)
class ForwardTarget:
    address: str
    keep: bool


@dataclass(frozen=True)
class ForwardPlan:
    targets: tuple[str, ...]  # addresses to add as recipients
    keep_mailbox: bool


NOT_FORWARDED = ForwardPlan((), True)


def check_target(text: str, mailbox: str, registered: Iterable[str]) -> list[Problem]:
    """Problems of one new target: a whole address, not the mailbox, not listed, room left."""
    entry = text.strip()
    if not entry:
        return [Problem(N_("Enter the forwarding address."))]
    if len(entry) > MAX_ADDRESS_LENGTH:
        return [
            Problem(
                N_("The address is too long: at most {maximum} characters."),
                params={"maximum": MAX_ADDRESS_LENGTH},
            )
        ]
    address = normalize_address(entry)
    local, domain = split_address(address)
    if not (_LOCAL_PART.fullmatch(local) and _DOMAIN.fullmatch(domain)):
        return [Problem(N_("“{entry}” is not a whole mail address (name@domain)."), entry=entry)]
    if address == normalize_address(mailbox):
        return [Problem(N_("“{entry}” is this mailbox itself."), entry=entry)]
    listed = {normalize_address(existing) for existing in registered}
    if address in listed:
        return [Problem(N_("“{entry}” is already a forwarding address."), entry=entry)]
    if len(listed) >= MAX_TARGETS:
        return [
            Problem(
                N_("At most {maximum} forwarding addresses can be set; delete one first."),
                params={"maximum": MAX_TARGETS},
            )
        ]
    return []


def forward_plan(
    mailbox: str, targets: tuple[ForwardTarget, ...], trace: frozenset[str]
) -> ForwardPlan:
    """What to do with a delivered copy for ``mailbox``."""
    if not targets or normalize_address(mailbox) in trace:
        return NOT_FORWARDED
    return ForwardPlan(
        tuple(target.address for target in targets),
        keep_mailbox=any(target.keep for target in targets),
    )


def trace_value(mailbox: str, message_id: str, key: bytes) -> str:
    """``taro@example.jp; mac=…``: the trace a forwarded copy carries."""
    address = normalize_address(mailbox)
    return f"{address}; mac={_mac(address, message_id, key)}"


def forward_trace(header_values: Iterable[str], message_id: str, key: bytes) -> frozenset[str]:
    """The mailboxes an arriving mail was already forwarded by: traces with a valid MAC."""
    found = set()
    for value in header_values:
        address, _, mac = value.partition(";")
        address = normalize_address(address)
        mac = mac.strip().removeprefix("mac=")
        expected = _mac(address, message_id, key).encode()
        if address and hmac.compare_digest(mac.encode("utf-8", "surrogateescape"), expected):
            found.add(address)
    return frozenset(found)


def _mac(address: str, message_id: str, key: bytes) -> str:
    text = f"{address}\n{message_id.strip()}".encode("utf-8", "surrogateescape")
    return hmac.new(key, text, hashlib.sha256).hexdigest()[:_MAC_HEX_CHARS]
