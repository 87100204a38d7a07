"""Results through the API: each sitting's result from the conduct rules (per exam) and the grading, publishing that
freezes them with a hash anyone can recompute, reopening with a reason into a new version, and the CSV/XLSX exports
(formula-safe)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.api.test_grading import RUBRIC, V1, Graded, graded_world, settle_reviews
from tests.support.api import Api, id_number, phone
from tests.support.realtime import DEADLINE

pytestmark = pytest.mark.anyio

HOSTILE = '=HYPERLINK("x")'


async def violation(world: Graded, second: str, sitting: str, *codes: str) -> None:
    """A violation decided by ops and confirmed by a second staff member."""
    decided = await world.api.ok("POST", f"{V1}/ops/sittings/{sitting}/decisions", world.ops, status=201, json={"outcome": "violation", "reason_codes": list(codes)})
    (row,) = [r for r in (await world.results())["rows"] if r["sitting_id"] == sitting]
    assert (row["state"], row["reason"]) == ("pending", "review_open")  # four eyes first
    await world.api.ok("POST", f"{V1}/ops/decisions/{decided['id']}/second", second, json={"agrees": True})


async def score_all(world: Graded, sittings: list[str], points: tuple[float, int] = (5, 3), comments: dict[str, str] | None = None) -> None:
    """Every grader submits every sheet they hold, with the comment `comments` gives them (by grader name)."""
    codes = await world.codes()
    for sitting in sittings:
        for name in world.graders:
            if any(e["code"] == codes[sitting] for e in await world.queue(name)):
                await world.submit(name, codes[sitting], *points, comment=(comments or {}).get(name))


def by_sitting(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["sitting_id"]: row for row in body["rows"]}


async def test_each_rule_class_gives_its_result_and_an_exam_can_change_a_consequence(api: Api) -> None:
    world = await graded_world(api, uploaded=3, unfinished=1, settle=False)
    second = await api.staff()
    other, filtered, clean = world.sittings
    await violation(world, second, other, "other_person")
    await violation(world, second, filtered, "beauty_filter")
    await api.ok("POST", f"{V1}/ops/sittings/{clean}/decisions", world.ops, status=201, json={"outcome": "clean"})
    await world.add_graders("g1", "g2", "g3")
    await api.ok("POST", world.url("grading/assign"), world.ops)
    await score_all(world, [clean])

    rows = by_sitting(await world.results())
    assert (rows[other]["state"], rows[other]["reason"], rows[other]["score"]) == ("disqualified", "other_person", None)
    assert (rows[filtered]["state"], rows[filtered]["reason"], rows[filtered]["score"]) == ("zero", "beauty_filter", 0.0)
    assert (rows[clean]["state"], rows[clean]["score"]) == ("scored", 8.0)
    assert (rows[world.absent]["state"], rows[world.absent]["reason"]) == ("disqualified", "absent")
    (unfinished,) = world.unfinished
    assert (rows[unfinished]["state"], rows[unfinished]["reason"]) == ("pending", "in_progress")  # uploads still open

    rules = await api.ok("PUT", f"{V1}/ops/exams/{world.exam_id}/conduct-rules", world.ops, json={"rules": {"beauty_filter": "disqualify"}})
    assert {r["code"]: (r["consequence"], r["default"]) for r in rules}["beauty_filter"] == ("disqualify", "zero")
    await world.refused("PUT", f"{V1}/ops/exams/{world.exam_id}/conduct-rules", world.ops, 422, "reason_code_unknown", json={"rules": {"nope": "zero"}})
    await world.refused("PUT", f"{V1}/ops/exams/{world.exam_id}/conduct-rules", world.ops, 422, "validation_error", json={"rules": {"other": "fine"}})
    api.clock.set(DEADLINE + timedelta(minutes=1))
    rows = by_sitting(await world.results())
    assert (rows[filtered]["state"], rows[filtered]["reason"]) == ("disqualified", "beauty_filter")
    assert (rows[unfinished]["state"], rows[unfinished]["reason"]) == ("disqualified", "incomplete")
    (late,) = await api.roster(world.ops, world.exam_id, [("未确认", id_number(50), phone(50))])  # never confirmed
    body = await world.results()
    (never,) = [r for r in body["rows"] if r["candidate_id"] == late["candidate_id"]]
    assert (never["sitting_id"], never["state"], never["reason"]) == (None, "disqualified", "not_confirmed")
    assert body["counts"] == {"scored": 1, "zero": 0, "disqualified": 5, "pending": 0}


def canonical_sha256(rows: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


async def test_publishing_freezes_the_results_and_a_reopen_makes_a_new_version(api: Api) -> None:
    world = await graded_world(api, uploaded=2)
    await world.add_graders("g1", "g2", "g3")
    await api.ok("POST", world.url("grading/assign"), world.ops)
    first, last = world.sittings
    await score_all(world, [first])
    pending = await world.refused("POST", world.url("results/publish"), world.ops, 409, "results_pending", json={})
    assert pending["details"] == {"pending": 1}
    assert await api.ok("GET", world.url("results/versions"), world.ops) == []  # refused: nothing published
    await score_all(world, [last], (4, 2))

    published = await api.ok("POST", world.url("results/publish"), world.ops, json={})
    body = await world.results()
    assert body["published"]["version"] == published["version"] == 1
    assert published["sha256"] == canonical_sha256(body["rows"])  # anyone can recompute it from the rows
    assert published["published_at"].endswith("+08:00")

    # Frozen: no score changes until a reopen.
    await world.refused("PUT", f"{V1}/ops/sittings/{first}/score", world.ops, 409, "results_published", json={"score": 9, "reason": "复议"})
    await world.refused("POST", world.url("results/publish"), world.ops, 409, "results_published", json={})
    await world.refused("PUT", world.url("grading"), world.ops, 409, "rubric_in_use", json={**RUBRIC, "items": RUBRIC["items"][:1]})
    await world.refused("POST", world.url("results/reopen"), world.ops, 422, "validation_error", json={"reason": ""})

    reopened = await api.ok("POST", world.url("results/reopen"), world.ops, json={"reason": "考生申诉，复议成绩"})
    assert (reopened["version"], reopened["reopen_reason"]) == (1, "考生申诉，复议成绩")
    assert (await world.results())["published"] is None
    await api.ok("PUT", f"{V1}/ops/sittings/{first}/score", world.ops, json={"score": 9, "reason": "复议"})
    again = await api.ok("POST", world.url("results/publish"), world.ops, json={})
    assert again["version"] == 2 and again["sha256"] != published["sha256"]
    versions = await api.ok("GET", world.url("results/versions"), world.ops)
    assert [(v["version"], v["reopened_at"] is not None) for v in versions] == [(2, False), (1, True)]
    assert by_sitting(await world.results())[first]["score"] == 9.0
    actions = [e["action"] for e in await api.ok("GET", f"{V1}/ops/audit", world.ops, params={"target_id": world.session_id})]
    assert actions.count("results.publish") == 2 and "results.reopen" in actions


async def test_publishing_with_pending_rows_needs_saying_so(api: Api) -> None:
    world = await graded_world(api, uploaded=1)
    done = await api.ok("POST", world.url("results/publish"), world.ops, json={"allow_pending": True})
    (row,) = [r for r in (await world.results())["rows"] if r["sitting_id"] == world.sittings[0]]
    assert (done["version"], row["state"], row["reason"]) == (1, "pending", "grading_not_assigned")
    await world.add_graders("g1")
    await api.ok("PUT", world.url("grading"), world.ops, json={**RUBRIC, "graders_per_sitting": 1})
    await api.ok("POST", world.url("results/reopen"), world.ops, json={"reason": "补评"})
    await api.ok("POST", world.url("grading/assign"), world.ops)
    (entry,) = await world.queue("g1")
    await api.ok("POST", world.url("results/publish"), world.ops, json={"allow_pending": True})
    # A grader cannot change published results either.
    await world.refused("POST", f"{V1}/grading/sheets/{entry['sheet_id']}/submit", world.graders["g1"], 409, "results_published",
                        json={"scores": {"content": 5, "expression": 3}})  # fmt: skip


async def test_exports_are_excel_ready_and_formula_safe(api: Api) -> None:
    world = await graded_world(api, uploaded=2, names=(HOSTILE, "李四"))
    await world.add_graders("g1", "g2", "g3")
    await api.ok("POST", world.url("grading/assign"), world.ops)
    await score_all(world, world.sittings, comments={"g1": "思路清晰", "g2": '=HYPERLINK("x")', "g3": "  "})
    await api.ok("POST", world.url("results/publish"), world.ops, json={})
    sha256 = (await world.results())["published"]["sha256"]
    codes = {g["code"]: g["username"] for g in (await api.ok("GET", world.url("grading"), world.ops))["graders"]}
    g1, g2 = (next(code for code, name in codes.items() if name == f"grader-{n}") for n in ("g1", "g2"))
    comment = f'{g1}：思路清晰；{g2}：=HYPERLINK("x")' if g1 < g2 else f'{g2}：=HYPERLINK("x")；{g1}：思路清晰'

    response = await api.request("GET", world.url("results/export"), world.ops, params={"format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="results-{world.session_id}-v1.csv"'
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], {r[0]: r for r in rows[1:]}
    assert header == ["考生编号 Roster id", "姓名 Name", "身份证号 ID number", "评分编号 Code", "结果 Result", "result_state", "成绩 Score", "G01", "G02", "G03", "原因 Reason", "评语 Comments"]
    hostile = world.candidates[0]["candidate_id"]
    assert body[hostile][1] == "'" + HOSTILE
    # Each grader's comment on a submitted sheet, by code (a blank one is none); the absent candidate has none.
    assert body[hostile][-1] == comment and body[world.candidates[2]["candidate_id"]][-1] == ""
    assert body[hostile][2].count("*") >= 8 and body[hostile][4:7] == ["有效成绩", "scored", "8.0"]
    assert body[world.candidates[2]["candidate_id"]][5] == "disqualified"

    response = await api.request("GET", world.url("results/export"), world.ops, params={"format": "xlsx"})
    assert response.status_code == 200 and response.headers["content-disposition"].endswith('-v1.xlsx"')
    book = load_workbook(io.BytesIO(response.content))
    sheet = book["成绩 Results"]
    assert sheet.freeze_panes == "A2"
    values = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values[hostile][1] == "'" + HOSTILE and sheet.cell(2, 2).data_type == "s"
    assert values[hostile][6] == 8.0 and values[hostile][7:10] == (8.0, 8.0, 8.0) and values[hostile][-1] == comment
    report = await api.ok("GET", f"{V1}/ops/sittings/{world.sittings[0]}/report", world.ops)
    assert report["comments"] == {g1: "思路清晰", g2: '=HYPERLINK("x")'}
    assert {sheet.cell(2, column).data_type for column in (7, 8, 9, 10)} == {"n"}  # numbers, not text
    assert sheet.column_dimensions["A"].width >= 36  # a whole UUID shows
    about = dict(book["说明 About"].iter_rows(values_only=True))
    assert about["SHA-256"] == sha256 and about["发布版本 Published version"] == "1" and "北京时间" in about["导出时间 Exported at"]
    await world.refused("GET", world.url("results/export"), world.ops, 422, "validation_error", params={"format": "pdf"})


async def test_reviews_not_settled_keep_a_result_pending(api: Api) -> None:
    world = await graded_world(api, uploaded=2, settle=False)
    queue = await api.ok("GET", world.url("review-queue"), world.ops)
    (sampled,) = [item["sitting_id"] for item in queue["items"]]  # the audit sample: at least one low-risk sitting
    rows = by_sitting(await world.results())
    assert (rows[sampled]["state"], rows[sampled]["reason"]) == ("pending", "review_pending")
    await settle_reviews(world)
    assert by_sitting(await world.results())[sampled]["reason"] == "grading_not_assigned"
