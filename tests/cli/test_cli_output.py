"""What the CLI prints for people: tables for lists, progress bars on stderr for long operations (a roster import,
here of an XLSX workbook, and a results export), and --json untouched by either."""

from __future__ import annotations

import io
import json
from pathlib import Path

from openpyxl import Workbook
from typer.testing import CliRunner

from app.cli import cli
from tests.cli.test_cli import cli_env, dualcam, make_exam, session_times
from tests.support.api import id_number, phone

TERMINAL = {"TTY_COMPATIBLE": "1", "COLUMNS": "160"}  # rich draws as on a terminal (its bars, its width)


def run(data_dir: Path, *args: str, terminal: bool = True) -> tuple[str, str]:
    result = CliRunner().invoke(cli, list(args), env={**cli_env(data_dir), **(TERMINAL if terminal else {})})
    assert result.exit_code == 0, f"{args}: {result.exit_code} {result.stdout} {result.stderr} {result.exception!r}"
    return result.stdout, result.stderr


def roster_workbook(path: Path) -> Path:
    book = Workbook()
    book.active.append(("姓名", "身份证号", "手机号"))
    book.active.append(("张三", id_number(1), int(phone(1))))
    book.active.append(("李四", id_number(2), phone(2)))
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_lists_print_tables_and_json_stays_json(data_dir: Path) -> None:
    exam_id = make_exam(data_dir)
    table, _ = run(data_dir, "exam", "list")
    header = next(line for line in table.splitlines() if "title" in line)
    assert all(column in header for column in ("id", "title", "province", "identity_category")), table
    assert any(exam_id in line and "2026年某单位公开招聘面试" in line and "山东" in line for line in table.splitlines()), table
    assert "{" not in table  # a table, not a printed list of dicts

    listed, _ = run(data_dir, "exam", "list", "--json")
    assert json.loads(listed) == [{"id": exam_id, "title": "2026年某单位公开招聘面试", "province": "山东", "identity_category": "其他"}]


def test_a_roster_import_shows_its_progress_and_a_table_of_the_access_codes(data_dir: Path, tmp_path: Path) -> None:
    exam_id = make_exam(data_dir)
    workbook = roster_workbook(tmp_path / "名单.xlsx")
    shown, bars = run(data_dir, "roster", "import", exam_id, str(workbook), "--dry-run")
    assert "检查名单 Checking rows" in bars and "2/2" in bars and "导入考生" not in bars  # a dry run imports nothing
    assert "dry_run: True" in shown and "rows: 2" in shown

    shown, bars = run(data_dir, "roster", "import", exam_id, str(workbook))
    assert "检查名单 Checking rows" in bars and "导入考生 Importing candidates" in bars and "2/2" in bars, bars
    lines = shown.splitlines()
    assert any("access_code" in line and "name" in line for line in lines), shown  # the imported table's header
    for name, number in (("张三", 1), ("李四", 2)):
        assert any(name in line and phone(number) in line for line in lines), shown


def test_json_output_has_no_bars_and_an_export_shows_its_rows_written(data_dir: Path, tmp_path: Path) -> None:
    exam_id = make_exam(data_dir)
    workbook = roster_workbook(tmp_path / "名单.xlsx")
    # Not at a terminal (a script, a log file): no bars, the same output.
    out, bars = run(data_dir, "roster", "import", exam_id, str(workbook), "--dry-run", terminal=False)
    assert bars == "" and "rows: 2" in out
    out, bars = run(data_dir, "roster", "import", exam_id, str(workbook), "--json")
    assert bars == "" and json.loads(out)["rows"] == 2

    day = "2026-01-05"
    session = dualcam(data_dir, "session", "create", exam_id, "--kind", "formal", "--title", "正式考试", *session_times(day), "--json")
    target = tmp_path / "成绩.xlsx"
    said, bars = run(data_dir, "results", "export", session["id"], "--format", "xlsx", "--out", str(target))
    assert "写出成绩 Writing rows" in bars and "2/2" in bars, bars
    assert said.strip() == f"wrote 2 rows to {target}" and target.stat().st_size > 0
