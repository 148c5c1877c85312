"""CSV download and upload of a list, for spreadsheet users.

Download: UTF-8 with a byte order mark (Excel on Japanese Windows then opens it right),
columns ``entry,hits,last_hit_at``. Upload: the first column of every row is an entry
(a first row reading ``entry`` is the header); UTF-8 with or without the mark, else
Shift_JIS (CP932), which Excel writes when saving CSV on Japanese Windows. Row numbers
in problems are the file's line numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from sekisho.rules.problems import N_, Problem
from sekisho.store.models import ListEntryRecord

HEADER = ("entry", "hits", "last_hit_at")


class CsvError(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.render())
        self.problem = problem


def to_csv(entries: Iterable[ListEntryRecord]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for entry in entries:
        last = entry.last_hit_at.isoformat() if entry.last_hit_at else ""
        writer.writerow((entry.value, entry.hit_count, last))
    return out.getvalue().encode("utf-8-sig")


def _text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvError(Problem(N_("The file is neither UTF-8 nor Shift_JIS text.")))


def entry_column(data: bytes) -> list[str]:
    """The entries of an uploaded file, one per row; blank rows stay as "" for numbering."""
    try:
        rows = list(csv.reader(io.StringIO(_text(data), newline="")))
    except csv.Error as error:
        raise CsvError(
            Problem(N_("The file is not valid CSV: {entry}"), entry=str(error))
        ) from error
    cells = [row[0] if row else "" for row in rows]
    if cells and cells[0].strip().lower() == HEADER[0]:
        cells[0] = ""
    return cells
