"""Files written for people to open in a spreadsheet (CSV, XLSX): every cell goes through `safe_cell`.

A cell that starts like a formula (`=HYPERLINK(…)`, `+cmd|…`, `@SUM(…)`, `-1+1`) is run by Excel, WPS and LibreOffice
when the file is opened, and a roster's names come from outside. OWASP's rule: prefix such a cell with an apostrophe,
which makes it text (Excel hides the apostrophe). openpyxl writes a string that starts with "=" as a formula, so an
XLSX writer needs the same helper."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """The value as a spreadsheet should show it: text that would start a formula gets a leading apostrophe.
    Numbers stay numbers (a negative number is not a formula)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]], *, private: bool) -> None:
    """A CSV in UTF-8 with a BOM (so Excel on Chinese Windows reads it as UTF-8), every cell through safe_cell.
    `private` for files that hold credentials (access codes): readable by the owner only (0600), set before the
    first byte is written, also when the file existed with a wider mode."""
    mode = 0o600 if private else 0o666  # 0666 & umask: what open() would give
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    if private:
        os.fchmod(fd, 0o600)
    with open(fd, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow([safe_cell(c) for c in header])
        writer.writerows([safe_cell(c) for c in row] for row in rows)
