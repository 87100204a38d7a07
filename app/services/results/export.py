"""A results table as a file people open in a spreadsheet: CSV (UTF-8 with a BOM, so Excel on Chinese Windows reads
it) or XLSX (openpyxl: header row frozen, widths set, scores as numbers). Every text cell goes through safe_cell:
a roster's names come from outside, and a cell starting like a formula would run when the file is opened."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from app.services.exports import safe_cell
from app.services.results.table import Table
from app.services.timezones import to_local, zone_label

STATE_LABELS = {"scored": "有效成绩", "zero": "零分", "disqualified": "取消资格", "pending": "待定"}
FIXED = ("考生编号 Roster id", "姓名 Name", "身份证号 ID number", "评分编号 Code", "结果 Result", "result_state", "成绩 Score")


def header(table: Table) -> list[str]:
    return [*FIXED, *table.grader_codes, "原因 Reason", "评语 Comments"]


def body(table: Table) -> list[list[Any]]:
    rows = []
    for row in table.rows:
        graders = [row["graders"].get(code) for code in table.grader_codes]
        comments = table.comments.get(row["sitting_id"] or "", {})
        rows.append([
            row["candidate_id"], row["name"], row["id_number_masked"], row["grading_code"] or "",
            STATE_LABELS[row["state"]], row["state"], row["score"], *graders, row["reason"],
            "；".join(f"{code}：{text}" for code, text in comments.items()),
        ])  # fmt: skip
    return rows


def about(table: Table, now: datetime) -> list[tuple[str, str]]:
    """What the file is: the session, the published version and its sha256 (or that it is not published)."""
    published = table.publication
    return [
        ("场次 Session", table.session.title),
        ("导出时间 Exported at", f"{to_local(now, table.timezone):%Y-%m-%d %H:%M:%S} {zone_label(table.timezone, now)}"),
        ("发布版本 Published version", str(published.version) if published else "未发布 not published"),
        ("SHA-256", published.sha256 if published else ""),
    ]


WRITING = "写出成绩 Writing rows"
Steps = Callable[[str, int, int], None]  # (what, done, total): how far the export is (the CLI's progress bar)


def _quiet(what: str, done: int, total: int) -> None:
    pass


def to_csv(table: Table, steps: Steps = _quiet) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(c) for c in header(table)])
    rows = body(table)
    for done, row in enumerate(rows, start=1):
        writer.writerow([safe_cell(c) for c in row])
        steps(WRITING, done, len(rows))
    return ("\ufeff" + buffer.getvalue()).encode()


def to_xlsx(table: Table, now: datetime, steps: Steps = _quiet) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "成绩 Results"
    columns = header(table)
    sheet.append([safe_cell(c) for c in columns])
    rows = body(table)
    for done, row in enumerate(rows, start=1):
        sheet.append([safe_cell(c) for c in row])
        steps(WRITING, done, len(rows))
    sheet.freeze_panes = "A2"
    _widths(sheet, columns, rows)
    info = book.create_sheet("说明 About")
    for key, value in about(table, now):
        info.append([key, safe_cell(value)])
    info.column_dimensions["A"].width, info.column_dimensions["B"].width = 28, 70
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _widths(sheet: Any, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    for index, name in enumerate(columns, start=1):
        cells = [name, *(row[index - 1] for row in rows)]
        # A CJK character is about two Latin ones wide.
        widest = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(c if c is not None else "")) for c in cells)
        sheet.column_dimensions[get_column_letter(index)].width = min(max(widest + 2, 8), 60)
