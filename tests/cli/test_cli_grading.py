"""`dualcam grading …` and `dualcam results …` in-process on a data dir: a rubric from a file, graders, assignment,
and the results exported as CSV and XLSX; bad input exits 2 with one JSON line."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

from openpyxl import load_workbook

from tests.api.test_grading import RUBRIC
from tests.cli.test_cli import SHANGHAI, dualcam, make_exam, session_times
from tests.support.api import id_number, phone


def formal_session(data_dir: Path, tmp_path: Path) -> str:
    exam_id = make_exam(data_dir)
    day = datetime.now(SHANGHAI).date() + timedelta(days=3)
    session = dualcam(data_dir, "session", "create", exam_id, "--kind", "formal", "--title", "正式考试", *session_times(day), "--json")
    roster = tmp_path / "名单.csv"
    roster.write_text(f'姓名,身份证号,手机号\n=HYPERLINK("x"),{id_number(1)},{phone(1)}\n李四,{id_number(2)},{phone(2)}\n', encoding="utf-8")
    dualcam(data_dir, "roster", "import", exam_id, str(roster), "--json")
    return str(session["id"])


def test_rubric_graders_assignment_and_export_from_the_cli(data_dir: Path, tmp_path: Path) -> None:
    session_id = formal_session(data_dir, tmp_path)
    rubric = tmp_path / "rubric.json"
    rubric.write_text(json.dumps(RUBRIC, ensure_ascii=False), encoding="utf-8")
    shown = dualcam(data_dir, "grading", "rubric", "set", session_id, str(rubric), "--json")
    assert (shown["maximum"], shown["graders_per_sitting"], [i["key"] for i in shown["items"]]) == (10.0, 3, ["content", "expression"])
    for name in ("grader-a", "grader-b"):
        dualcam(data_dir, "staff", "create", name, "--role", "grader")
    assert dualcam(data_dir, "grading", "grader", "add", session_id, "grader-a") == "grader-a: G01\n"
    assert dualcam(data_dir, "grading", "grader", "add", session_id, "grader-b") == "grader-b: G02\n"
    assert [g["code"] for g in dualcam(data_dir, "grading", "rubric", "show", session_id, "--json")["graders"]] == ["G01", "G02"]
    # Nothing is recorded yet (the session is days away): nothing to assign.
    assert dualcam(data_dir, "grading", "assign", session_id, "--json") == {"sittings": 0, "sheets_added": 0, "extra_added": 0, "short": []}

    out = tmp_path / "成绩.csv"
    assert dualcam(data_dir, "results", "export", session_id, "--format", "csv", "--out", str(out)) == f"wrote 2 rows to {out}\n"
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][-2:] == ["原因 Reason", "评语 Comments"]
    assert [(r[1], r[5], r[-2], r[-1]) for r in rows[1:]] == [("'=HYPERLINK(\"x\")", "pending", "not_confirmed", ""), ("李四", "pending", "not_confirmed", "")]
    xlsx = tmp_path / "成绩.xlsx"
    dualcam(data_dir, "results", "export", session_id, "--format", "xlsx", "--out", str(xlsx))
    sheet = load_workbook(xlsx)["成绩 Results"]
    assert sheet.freeze_panes == "A2" and sheet.cell(2, 2).value == "'=HYPERLINK(\"x\")"
    shown = dualcam(data_dir, "results", "show", session_id, "--json")
    assert shown["published_version"] is None and len(shown["rows"]) == 2
    refused = dualcam(data_dir, "results", "publish", session_id, exit_code=2)["error"]
    assert (refused["code"], refused["details"]) == ("results_pending", {"pending": 2})
    assert dualcam(data_dir, "results", "publish", session_id, "--allow-pending").startswith("published version 1, sha256 ")
    assert dualcam(data_dir, "results", "reopen", session_id, "--reason", "补评") == "reopened version 1\n"


def test_bad_input_exits_2_with_one_json_line(data_dir: Path, tmp_path: Path) -> None:
    session_id = formal_session(data_dir, tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert dualcam(data_dir, "grading", "rubric", "set", session_id, str(broken), exit_code=2)["error"]["details"]["reason"] == "unreadable_file"
    uneven = tmp_path / "uneven.json"
    uneven.write_text(json.dumps([{"key": "a", "label": "A", "max_points": 5, "step": 2}]), encoding="utf-8")
    assert dualcam(data_dir, "grading", "rubric", "set", session_id, str(uneven), exit_code=2)["error"]["code"] == "rubric_invalid"
    shapeless = tmp_path / "shapeless.json"
    shapeless.write_text(json.dumps({"items": [{"label": "A"}]}), encoding="utf-8")
    assert dualcam(data_dir, "grading", "rubric", "set", session_id, str(shapeless), exit_code=2)["error"]["code"] == "validation_error"
    assert dualcam(data_dir, "grading", "assign", session_id, exit_code=2)["error"]["code"] == "rubric_missing"
    assert dualcam(data_dir, "grading", "assign", "not-a-uuid", exit_code=2)["error"]["code"] == "validation_error"
    dualcam(data_dir, "staff", "create", "rev-x", "--role", "reviewer")
    assert dualcam(data_dir, "grading", "grader", "add", session_id, "rev-x", exit_code=2)["error"]["code"] == "grader_role_required"
    assert dualcam(data_dir, "results", "reopen", session_id, "--reason", "x", exit_code=2)["error"]["code"] == "results_not_published"
    assert dualcam(data_dir, "results", "export", session_id, "--format", "csv", "--out", str(tmp_path / "no" / "such" / "dir.csv"), exit_code=2)["error"]["code"] == "validation_error"
