"""Blind grading and results in the staff console, after a mock answered by two phones in Chromium: two graders
score the sitting by its anonymous code beside both recordings (seeing no name, ID or phone), a draft saves and a
submission locks; ops see the mean, publish the results and export them, and the files open as a spreadsheet would
read them, a candidate named like a formula escaped."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.e2e import flows
from tests.e2e.console import log_in, shoot, staff_account, until
from tests.e2e.recordings import require_uploads
from tests.e2e.support import E2EServer, Ops, question_picture

ANSWER_SECONDS = 10
HOSTILE = '=HYPERLINK("x")'


def assert_blind(text: str, candidate: Any, sitting_id: str) -> None:
    """Nothing on a grader's page names the candidate: not the name, the ID number (or its masked tail), the phone,
    the sitting, nor the other candidate on the roster."""
    for value in (candidate.name, candidate.id_number, candidate.id_number[-4:], sitting_id, HOSTILE):
        assert value not in text, value


def set_up_rubric(page: Any) -> None:
    items = (("内容", "6", "0.5", "5-6 切题，见解深入\n0-2.5 偏题"), ("表达", "4", "1", ""))
    for index, (label, max_points, step, bands) in enumerate(items):
        if index:
            page.locator("[data-action=add-item]").click()
        row = page.locator("[data-test=rubric-row]").nth(index)
        row.locator("[name=label]").fill(label)
        row.locator("[name=max_points]").fill(max_points)
        row.locator("[name=step]").fill(step)
        row.locator("[name=bands]").fill(bands)
    page.locator("[name=graders_per_sitting]").fill("2")
    page.locator("[data-action=save-rubric]").click()


def score(page: Any, content: str, expression: str, *, draft_first: bool = False) -> None:
    page.locator("[data-test=score-item_1]").select_option(content)
    if draft_first:
        page.locator("[data-action=save]").click()
        expect(page.locator("#toast")).to_contain_text("草稿已保存")
        page.reload()
        expect(page.locator("[data-test=score-item_1]")).to_have_value(content)
    page.locator("[data-test=score-item_2]").select_option(expression)
    page.locator("[data-test=comment]").fill("思路清晰")
    page.locator("[data-action=submit]").click()
    page.locator(".modal [data-action=confirm]").click()
    expect(page.locator("[data-test=locked]")).to_be_visible()
    expect(page.locator("[data-test=score-item_1]")).to_be_disabled()


def test_two_graders_score_blind_then_ops_publish_and_export(server: E2EServer, ops: Ops, phone: Callable[..., Any], desk: Callable[[], Any], tmp_path: Any) -> None:
    require_uploads(server)
    exam, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=ANSWER_SECONDS, question_image=question_picture())
    ops.candidate(exam["id"], name=HOSTILE, id_photo=None)  # on the roster, never confirmed
    sitting_id = candidate.sitting(session["id"])["id"]
    main, aux = phone(), phone()
    flows.answered(main, aux, server, candidate, session, ANSWER_SECONDS)
    main.close()
    aux.close()

    graders = [staff_account(server, "grader") for _ in range(2)]
    ops.http.call("POST", f"/api/v1/ops/sittings/{sitting_id}/decisions", 201, json={"outcome": "clean"})

    # Ops set the rubric and the graders in the console, then assign.
    admin = staff_account(server, "ops")
    desk_ops = desk()
    log_in(desk_ops, server, admin)
    desk_ops.locator(f"[data-test=session][data-session-id='{session['id']}'] [data-action=results]").click()
    desk_ops.locator("[data-action=edit-rubric]").click()
    set_up_rubric(desk_ops)
    expect(desk_ops.locator("[data-test=rubric] li")).to_have_count(2)
    for grader in graders:
        desk_ops.locator("[data-test=grader-pick]").select_option(grader.id)
        desk_ops.locator("[data-action=add-grader]").click()
        expect(desk_ops.locator("[data-test=graders]")).to_contain_text(grader.username)
    expect(desk_ops.locator("[data-test=graders] .pill")).to_have_count(2)
    shoot(desk_ops, "results-setup")
    desk_ops.locator("[data-action=assign]").click()
    expect(desk_ops.locator("#toast")).to_contain_text("新增评分任务 2 个")
    plan = ops.http.call("GET", f"/api/v1/ops/sessions/{session['id']}/grading")
    assert [(i["label"], i["max_points"], i["step"]) for i in plan["items"]] == [("内容", 6, 0.5), ("表达", 4, 1)]
    assert plan["items"][0]["descriptors"] == [{"from": 5, "to": 6, "text": "切题，见解深入", "text_en": ""}, {"from": 0, "to": 2.5, "text": "偏题", "text_en": ""}]
    assert (plan["graders_per_sitting"], [g["code"] for g in plan["graders"]]) == (2, ["G01", "G02"])

    for grader, (content, expression), first in zip(graders, (("5.5", "3"), ("4", "3")), (True, False), strict=True):
        page = desk()
        log_in(page, server, grader)
        item = page.locator("[data-test=grading-item]")
        expect(item).to_have_count(1)
        code = item.get_attribute("data-code")
        assert code and code.startswith("A-")
        assert_blind(page.locator("body").inner_text(), candidate, sitting_id)
        if first:
            shoot(page, "grading-queue")
        item.locator("[data-action=grade]").click()
        expect(page.locator("[data-test=code]")).to_contain_text(code)
        for role in ("main", "aux"):
            video = page.locator(f"[data-test=video-{role}]")
            expect(video).to_have_count(1)
            until(page, lambda: video.evaluate("v => v.readyState") >= 2, timeout=20, what=f"the {role} video to load")
        image = page.locator("[data-test=question-image]")
        until(page, lambda: image.evaluate("img => img.naturalWidth"), timeout=10, what="the question image")
        assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [800, 500]
        assert_blind(page.locator("body").inner_text(), candidate, sitting_id)
        score(page, content, expression, draft_first=first)
        expect(page.locator("[data-test=grade-sum]")).to_contain_text(f"{float(content) + float(expression):g} / 10")
        if first:
            shoot(page, "grading-sheet")
        page.goto(f"{server.url}/console/#/results/{session['id']}")  # not a grader's page: back to the queue
        expect(page.locator("[data-test=grading-item][data-status=submitted]")).to_have_count(1)

    server.clock.set(flows.answer_ends(session) + timedelta(minutes=31))  # past the upload deadline
    page = desk_ops
    page.reload()
    row = page.locator("[data-test=result-row][data-state=scored]")
    expect(row).to_have_count(1)
    expect(row.locator("[data-test=score]")).to_have_text("7.75")  # (8.5 + 7) / 2
    expect(page.locator("[data-test=result-row][data-state=disqualified] [data-test=reason]")).to_have_text("未确认参加")
    page.locator("[data-action=publish]").click()
    published = page.locator("[data-test=published]")
    expect(published).to_contain_text("已发布第 1 版")
    sha256 = ops.http.call("GET", f"/api/v1/ops/sessions/{session['id']}/results")["published"]["sha256"]
    expect(published).to_contain_text(sha256)
    shoot(page, "results")

    with page.expect_download() as xlsx_download:
        page.locator("[data-action=export-xlsx]").click()
    xlsx = tmp_path / "results.xlsx"
    xlsx_download.value.save_as(xlsx)
    assert xlsx_download.value.suggested_filename == f"results-{session['id']}-v1.xlsx"
    sheet = load_workbook(xlsx)["成绩 Results"]
    rows = {r[1]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows[candidate.name][5:7] == ("scored", 7.75) and rows[candidate.name][7:9] == (8.5, 7.0)
    assert rows["'" + HOSTILE][5] == "disqualified"

    with page.expect_download() as csv_download:
        page.locator("[data-action=export-csv]").click()
    data = csv_download.value.path().read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    table = {r[1]: r for r in list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1:]}
    assert table[candidate.name][5:9] == ["scored", "7.75", "8.5", "7.0"]
    assert table[candidate.name][-1] == "G01：思路清晰；G02：思路清晰"  # each grader's comment, by code
    assert table["'" + HOSTILE][5] == "disqualified"

    # The candidate's report: the evidence and the outcome on one printable A4 page.
    page.locator("[data-test=result-row][data-state=scored] a[href^='#/report/']").click()
    report = page.locator("[data-test=report]")
    expect(report).to_contain_text(candidate.name)
    hashes = {r["role"]: r["sha256"] for r in ops.recordings(sitting_id).values()}
    for role in ("main", "aux"):
        expect(page.locator(f"[data-test=report-recordings] tr[data-role={role}]")).to_contain_text(hashes[role])
    expect(page.locator("[data-test=report-decision]")).to_contain_text("无违规")
    expect(page.locator("[data-test=report-result][data-state=scored]")).to_contain_text("7.75")
    expect(page.locator("[data-test=report-comments] li")).to_have_text(["G01：思路清晰", "G02：思路清晰"])
    shoot(page, "report")
    page.emulate_media(media="print")
    expect(page.locator(".console-bar")).to_be_hidden()
    pdf = page.pdf(format="A4", print_background=True)
    assert len(re.findall(rb"/Type\s*/Page(?!s)", pdf)) == 1, "the report should print on one A4 page"
    page.emulate_media(media="screen")

    # Reopened, ops set the score by hand with a reason: it replaces the graders' mean, and publishing makes v2.
    page.goto(f"{server.url}/console/#/results/{session['id']}")
    expect(page.locator("[data-test=published]")).to_be_visible()
    expect(page.locator("[data-action=set-score]")).to_have_count(0)  # published rows are frozen
    page.locator("[data-action=reopen]").click()
    page.locator("[data-test=reopen-reason]").fill("复核后调整")
    page.locator("[data-action=reopen-confirm]").click()
    expect(page.locator("[data-test=not-published]")).to_be_visible()
    page.locator("[data-test=result-row][data-state=scored] [data-action=set-score]").click()
    form = page.locator("[data-test=score-form]")
    form.locator("[name=score]").fill("9")
    form.locator("[name=reason]").fill("复核录像后由考务组议定")
    shoot(page, "results-set-score")
    form.locator("[data-action=score-save]").click()
    expect(page.locator("#toast")).to_contain_text("成绩已设定")
    scored = page.locator("[data-test=result-row][data-state=scored]")
    expect(scored.locator("[data-test=score]")).to_have_text("9.00")
    expect(scored.locator("[data-test=reason]")).to_have_text("考务手工设定")
    (entry,) = ops.http.call("GET", "/api/v1/ops/audit", params={"action": "grading.score.set"})
    assert entry["details"]["reason"] == "复核录像后由考务组议定", entry
    page.locator("[data-action=publish]").click()
    expect(page.locator("[data-test=published]")).to_contain_text("已发布第 2 版")
