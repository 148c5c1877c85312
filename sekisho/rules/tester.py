"""The rule tester (ルールのテスト): what this mailbox's settings do with a mail's header.

Nothing here decides: every answer is ``decide`` itself, run on the pasted header with
made-up scan results, because a header alone cannot be scanned for spam or a virus:
- scans that find nothing: the outcome the header decides, and each row's hit or miss;
- a spam verdict, then a virus: what the mailbox's settings would do with either.
A row that misses with clean scans but hits with one of the made-up verdicts is a row
that depends on the scan; a row that misses with every verdict is a plain miss.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from email.errors import MissingHeaderBodySeparatorDefect
from email.parser import HeaderParser
from email.policy import compat32
from enum import Enum

from sekisho.rules.addresses import normalize_address
from sekisho.rules.decide import DECISION_TABLE, Row, decide
from sekisho.rules.model import Action, Decision, Message, Policy, RuleHit, ScanResults, SpamVerdict

# A header is some kilobytes; this also bounds the parser's work on a pasted whole mail.
HEADER_MAX_BYTES = 64 * 1024

_CLEAN = ScanResults(virus_scanned=True, spam=SpamVerdict(False, 0.0, 0.0, ""))
_SPAM = ScanResults(virus_scanned=True, spam=SpamVerdict(True, 0.0, 0.0, ""))
_INFECTED = ScanResults(virus_scanned=True, virus="-", spam=_CLEAN.spam)


@dataclass(frozen=True)
class PastedHeader:
    """The header fields read from the pasted text, in order."""

    headers: tuple[tuple[str, str], ...]
    # The parser met a line that is no header field and stopped there.
    stopped_early: bool


def parse_header(text: str) -> PastedHeader:
    """The fields of a pasted header; a whole mail may be pasted, its body is not read."""
    parsed = HeaderParser(policy=compat32).parsestr(text.replace("\r\n", "\n").lstrip())
    stopped = any(isinstance(d, MissingHeaderBodySeparatorDefect) for d in parsed.defects)
    return PastedHeader(tuple(parsed.raw_items()), stopped)


def envelope_sender(given: str, message_headers: tuple[tuple[str, str], ...]) -> str:
    """The envelope sender as the milter would see it: as given, or else the header From's
    first address (a mail with neither had the null sender, ``<>``)."""
    if given.strip():
        return normalize_address(given)
    from_addresses = Message("", message_headers).header_from_addresses
    return from_addresses[0] if from_addresses else ""


class RowState(Enum):
    HIT = "hit"
    MISS = "miss"
    SCAN = "scan"  # decided by what a scan finds, which a header cannot tell
    NOT_REACHED = "not_reached"  # an earlier row decided


@dataclass(frozen=True)
class TriedRow:
    rule: str
    action: Action
    state: RowState
    hit: RuleHit | None  # the entry that matched, for a HIT row


@dataclass(frozen=True)
class Trial:
    """What the tester shows: the outcome with clean scans, each row, the made-up verdicts."""

    decision: Decision
    rows: tuple[TriedRow, ...]
    if_spam: Decision
    if_virus: Decision

    @property
    def spam_matters(self) -> bool:
        return any(
            r.state is RowState.SCAN and r.action is not Action.REMOVE_VIRUS for r in self.rows
        )

    @property
    def virus_matters(self) -> bool:
        return any(r.state is RowState.SCAN and r.action is Action.REMOVE_VIRUS for r in self.rows)


def try_message(
    policy: Policy,
    message: Message,
    today: date | None,
    trace_key: bytes = b"",
    table: tuple[Row, ...] = DECISION_TABLE,
) -> Trial:
    def run(scans: ScanResults) -> Decision:
        return decide(policy, message, table, scans=scans, today=today, trace_key=trace_key)

    clean, if_spam, if_virus = run(_CLEAN), run(_SPAM), run(_INFECTED)
    rows = tuple(
        TriedRow(
            row.rule, row.action, _state(index, clean, (if_spam, if_virus)), _hit(index, clean)
        )
        for index, row in enumerate(table)
    )
    return Trial(clean, rows, if_spam, if_virus)


def _hit(index: int, decision: Decision) -> RuleHit | None:
    return decision.trace[index].hit if index < len(decision.trace) else None


def _state(index: int, clean: Decision, verdicts: tuple[Decision, ...]) -> RowState:
    if index >= len(clean.trace):
        return RowState.NOT_REACHED
    if clean.trace[index].hit is not None:
        return RowState.HIT
    if any(_hit(index, verdict) is not None for verdict in verdicts):
        return RowState.SCAN
    return RowState.MISS
