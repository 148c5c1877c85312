"""CSV download and upload of a list, for spreadsheet users.

Download: UTF-8 with a byte order mark (Excel on Japanese Windows then opens it right),
columns ``entry,hits,last_hit_at`` (ISO 8601, UTC). A cell that a spreadsheet would run
as a formula (starting ``=``, ``+``, ``-``, ``@``, tab or CR; ``@example.com`` is a valid
entry) is written with a leading ``'``, and an upload drops that quote again.

Upload: the first column of every row is an entry (a first row reading ``entry`` is the
header); UTF-8 with or without the mark, else Shift_JIS (CP932), which Excel writes when
saving CSV on Japanese Windows. Problems name the file's line numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from sekisho.rules.problems import N_, Problem

HEADER = ("entry", "hits", "last_hit_at")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class CsvError(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.render())
        self.problem = problem


def _cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _uncell(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_STARTS) else cell


def to_csv(rows: Iterable[tuple[str, int, datetime | None]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for value, hits, last in rows:
        writer.writerow((_cell(value), hits, last.isoformat() if last else ""))
    return out.getvalue().encode("utf-8-sig")


def _text(data: bytes) -> str:
    if b"\x00" in data:
        raise CsvError(Problem(N_("The file is not a text (CSV) file.")))
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CsvError(Problem(N_("The file is neither UTF-8 nor Shift_JIS text.")))


def entry_column(data: bytes) -> list[str]:
    """The entries of an uploaded file, indexed so that entry i sits on line i + 1 of the
    file; lines holding no entry (blank, the header, inside a multi-line cell) are ""."""
    reader = csv.reader(io.StringIO(_text(data), newline=""))
    cells: list[str] = []
    try:
        for row in reader:
            cells.append(_uncell(row[0]) if row else "")  # on the row's first line
            cells.extend([""] * (reader.line_num - len(cells)))  # lines a quoted cell spans
    except csv.Error:
        raise CsvError(
            Problem(N_("Line {line}: the CSV format is broken here."), reader.line_num)
        ) from None
    if cells and cells[0].strip().lower() == HEADER[0]:
        cells[0] = ""
    if not any(cell.strip() for cell in cells):
        raise CsvError(Problem(N_("The file holds no entry.")))
    return cells
