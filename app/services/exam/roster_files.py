"""Reading a roster file into rows of text cells: CSV (UTF-8, with or without BOM, or GBK) or XLSX (openpyxl,
read-only: the sheet is streamed, never loaded whole). Which one is told by the content (an XLSX is a zip), not by
the file's name. Checking the cells is the roster's (app.services.exam.roster)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

from app import errors

XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True, slots=True)
class Record:
    """A row of the file as the person who made it sees it: its number (the line of a CSV where the row starts, the
    row of a sheet), its cells (None: the line's bytes are in neither encoding), and the columns whose cell held a
    number where text was needed."""

    number: int
    cells: list[str] | None
    numeric: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Table:
    header: list[str]
    records: Iterator[Record]


def read_table(data: bytes) -> Table:
    if data.startswith(XLSX_MAGIC):
        return _xlsx(data)
    return _csv(data)


# --- CSV ---------------------------------------------------------------------------------------------------------------


def _file_encoding(raw_lines: list[bytes], has_bom: bool) -> str:
    """The file's one encoding. GB18030 decodes almost any bytes, so a line must never fall back to it on its
    own: a Latin-1 "Müller" in a UTF-8 file would import as "M黮ler". Non-ASCII lines that are valid UTF-8 are
    strong evidence (GBK text almost never is), so they decide; lines in neither encoding are reported per row."""
    if has_bom:
        return "utf-8"
    utf8 = other = 0
    for raw in raw_lines:
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            utf8 += 1
        except UnicodeDecodeError:
            other += 1
    return "utf-8" if utf8 >= other else "gb18030"


def _csv(data: bytes) -> Table:
    has_bom = data.startswith(b"\xef\xbb\xbf")
    raw_lines = data.removeprefix(b"\xef\xbb\xbf").splitlines(keepends=True)  # \n, \r, \r\n: lines as an editor numbers them
    encoding = _file_encoding([raw.rstrip(b"\r\n") for raw in raw_lines], has_bom)
    lines: list[tuple[int, str | None]] = []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            lines.append((number, raw.decode(encoding)))
        except UnicodeDecodeError:
            lines.append((number, None))
    if not lines or lines[0][1] is None:
        raise errors.RosterUnreadable()
    return Table(next(csv.reader([lines[0][1]])), _csv_records(lines[1:]))


def _csv_records(lines: list[tuple[int, str | None]]) -> Iterator[Record]:
    """The csv module sees the text itself, line endings included, so a quoted cell may hold a line break (Excel's
    Alt+Enter) and the row is still one row, numbered by the line it starts on."""
    starts: list[int] = []
    undecodable: list[int] = []

    def feed() -> Iterator[str]:
        for number, text in lines:
            if text is None:  # reported as its own row; the csv reader never sees it
                undecodable.append(number)
                continue
            if not starts:
                starts.append(number)
            yield text

    try:
        for cells in csv.reader(feed()):
            while undecodable:
                yield Record(undecodable.pop(0), None)
            start = starts.pop() if starts else 0
            if any(c.strip() for c in cells):
                yield Record(start, cells)
    except csv.Error as exc:  # a quote never closed, a NUL byte
        raise errors.RosterUnreadable(details={"reason": str(exc)}) from None
    while undecodable:
        yield Record(undecodable.pop(0), None)


# --- XLSX --------------------------------------------------------------------------------------------------------------


def _text(value: object) -> tuple[str, bool]:
    """A cell as text, and whether Excel stored it as a number."""
    if value is None:
        return "", False
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, int):
        return str(value), True
    if isinstance(value, float):
        return (str(int(value)) if value.is_integer() else repr(value)), True
    if isinstance(value, datetime | date | time):
        return value.isoformat(), False
    return str(value), False


def _xlsx(data: bytes) -> Table:
    from openpyxl import load_workbook  # only when a sheet comes: most rosters are CSV

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise errors.RosterUnreadable(details={"reason": f"not a readable XLSX workbook: {exc}"}) from None
    rows = book.worksheets[0].iter_rows(values_only=True)  # the first sheet; read-only mode yields from row 1
    header = next(rows, None)
    if header is None:
        book.close()
        raise errors.RosterUnreadable(details={"reason": "no rows"})

    def records() -> Iterator[Record]:
        try:
            for number, values in enumerate(rows, start=2):
                texts = [_text(v) for v in values]
                if any(t.strip() for t, _ in texts):
                    yield Record(number, [t for t, _ in texts], frozenset(i for i, (_, numeric) in enumerate(texts) if numeric))
        finally:
            book.close()

    return Table([_text(v)[0] for v in header], records())
