"""CSV download and upload of a list, for spreadsheet users.

Download: UTF-8 with a byte order mark (Excel on Japanese Windows then opens it right),
columns ``entry,hits,last_hit_at`` (ISO 8601, UTC). A cell that a spreadsheet would run
as a formula (starting ``=``, ``+``, ``-``, ``@``, tab or CR; ``@example.com`` is a valid
entry) is written with a leading ``'``, and an upload drops that quote again.

Upload: the first column of every row is an entry (a first row reading ``entry`` is the
header); UTF-8 with or without the mark, else Shift_JIS (CP932), which Excel writes when
saving CSV on Japanese Windows. Problems name the file's line numbers. A file over the
size or line limit is refused before it is parsed; one within them is parsed from its
stream (werkzeug spools a large upload to a temporary file).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import IO

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


@dataclass(frozen=True)
class UploadLimits:
    """The largest file an upload may be (config upload_max_bytes, upload_max_lines)."""

    max_bytes: int
    max_lines: int

    @property
    def megabytes(self) -> str:
        return f"{self.max_bytes / _MEGABYTE:.1f}".removesuffix(".0")


_MEGABYTE = 1024 * 1024
_CHUNK = 64 * 1024


def _too_large(limits: UploadLimits) -> CsvError:
    return CsvError(
        Problem(
            N_("CSV file: the file is larger than {megabytes} MB, the most one upload can be."),
            params={"megabytes": limits.megabytes},
        )
    )


def _too_long(limits: UploadLimits) -> CsvError:
    return CsvError(
        Problem(
            N_("CSV file: the file has more than {lines} lines, the most one upload can have."),
            params={"lines": f"{limits.max_lines:,}"},
        )
    )


def _check_size(upload: IO[bytes], limits: UploadLimits) -> None:
    """Refuse a file over the limits before any of it is parsed: its size without reading
    it, then its line feeds and NUL bytes counted a chunk at a time."""
    if upload.seek(0, io.SEEK_END) > limits.max_bytes:
        raise _too_large(limits)
    upload.seek(0)
    lines = 0
    while chunk := upload.read(_CHUNK):
        if b"\x00" in chunk:
            raise CsvError(Problem(N_("The file is not a text (CSV) file.")))
        lines += chunk.count(b"\n")
        if lines > limits.max_lines:
            raise _too_long(limits)


def _cells(text: IO[str], limits: UploadLimits) -> list[str]:
    reader = csv.reader(text)
    cells: list[str] = []
    try:
        for row in reader:
            cells.append(_uncell(row[0]) if row else "")  # on the row's first line
            cells.extend([""] * (reader.line_num - len(cells)))  # lines a quoted cell spans
            if reader.line_num > limits.max_lines:  # lines ended by CR alone were not counted
                raise _too_long(limits)
    except csv.Error:
        raise CsvError(
            Problem(N_("Line {line}: the CSV format is broken here."), reader.line_num)
        ) from None
    return cells


def entry_column(upload: IO[bytes], limits: UploadLimits) -> list[str]:
    """The entries of an uploaded file, indexed so that entry i sits on line i + 1 of the
    file; lines holding no entry (blank, the header, inside a multi-line cell) are "".

    The file is read from its (seekable) stream as it is parsed, never held whole.
    """
    _check_size(upload, limits)
    for encoding in ("utf-8-sig", "cp932"):
        upload.seek(0)
        text = io.TextIOWrapper(upload, encoding=encoding, newline="")
        try:
            cells = _cells(text, limits)
            break
        except UnicodeDecodeError:
            continue
        finally:
            text.detach()  # the upload stays open for the next encoding and its owner
    else:
        raise CsvError(Problem(N_("The file is neither UTF-8 nor Shift_JIS text.")))
    if cells and cells[0].strip().lower() == HEADER[0]:
        cells[0] = ""
    if not any(cell.strip() for cell in cells):
        raise CsvError(Problem(N_("The file holds no entry.")))
    return cells
