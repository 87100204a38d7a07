"""Ops set an exam up in the console from nothing: 新建考试 (times typed in 北京时间), 新建场次 (a formal session at
fixed times, then its questions page; a practice one by durations), a refused session kept on screen with the
server's reason; the API reads back what was typed, in the exam's zone."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.e2e.console import log_in, shoot, staff_account
from tests.e2e.support import E2EServer, Ops


def local(at: Any) -> str:
    """What a datetime-local input takes: the exam's wall clock, to the minute."""
    return at.strftime("%Y-%m-%dT%H:%M")


def test_ops_create_an_exam_and_its_sessions_in_the_console(server: E2EServer, ops: Ops, desk: Callable[[], Any]) -> None:
    title = f"2026年某市事业单位公开招聘面试 {uuid.uuid4().hex[:6]}"
    beijing = server.clock.now().astimezone(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0)
    page = desk()
    page.errors_expected.append("409")  # the overlapping session, refused on purpose
    log_in(page, server, staff_account(server, "ops"))

    page.locator("[data-action=new-exam]").click()
    form = page.locator("[data-test=exam-form]")
    form.locator("[name=title]").fill(title)
    form.locator("[name=organizer]").fill("某市人才服务中心")
    form.locator("[name=province]").fill("山东")
    expect(form.locator("[name=timezone]")).to_have_value("Asia/Shanghai")
    expect(form.locator("[data-zone-hint]").first).to_have_text("按北京时间填写")
    form.locator("[name=confirm_opens_at]").fill(local(beijing))
    form.locator("[name=confirm_closes_at]").fill(local(beijing + timedelta(days=5)))
    form.locator("[name=rules_text]").fill("诚信承诺：本人独立完成考试。")
    form.locator("[name=support_phone]").fill("400-800-1234")
    shoot(page, "new-exam")
    form.locator("[data-action=create-exam]").click()
    expect(page.locator("#toast")).to_contain_text("考试已创建")

    (listed,) = [e for e in ops.http.call("GET", "/api/v1/ops/exams") if e["title"] == title]
    exam = ops.http.call("GET", f"/api/v1/ops/exams/{listed['id']}")
    assert (exam["organizer"], exam["timezone"], exam["support"]["phone"], exam["interruption_limit"]) == ("某市人才服务中心", "Asia/Shanghai", "400-800-1234", 1)
    assert exam["confirm_closes_at"] == f"{local(beijing + timedelta(days=5))}:00+08:00"

    card = page.locator(f"[data-test=exam][data-exam-id='{exam['id']}']")
    card.locator("[data-action=new-session]").click()
    form = page.locator("[data-test=session-form]")
    expect(form.locator("[data-test=practice]")).to_be_hidden()
    opens = beijing + timedelta(days=3)
    form.locator("[name=title]").fill("结构化面试")
    for name, at in (("waiting_opens_at", opens), ("answer_starts_at", opens + timedelta(minutes=10)), ("answer_ends_at", opens + timedelta(minutes=20)), ("upload_deadline", opens + timedelta(hours=3))):
        form.locator(f"[name={name}]").fill(local(at))
    form.locator("[data-action=create-session]").click()
    expect(page.locator("#toast")).to_contain_text("场次已创建")
    expect(page.locator("[data-test=no-questions]")).to_be_visible()  # on to its questions
    (session,) = ops.http.call("GET", f"/api/v1/ops/exams/{exam['id']}/sessions")
    assert (session["kind"], session["title"], session["answer_starts_at"]) == ("formal", "结构化面试", f"{local(opens + timedelta(minutes=10))}:00+08:00")

    # The same times again: the server refuses the overlap, the page says so and keeps what was typed.
    page.goto(f"{server.url}/console/#/session-new/{exam['id']}")
    form = page.locator("[data-test=session-form]")
    form.locator("[name=title]").fill("重复的场次")
    for name, at in (("waiting_opens_at", opens), ("answer_starts_at", opens + timedelta(minutes=10)), ("answer_ends_at", opens + timedelta(minutes=20)), ("upload_deadline", opens + timedelta(hours=3))):
        form.locator(f"[name={name}]").fill(local(at))
    form.locator("[data-action=create-session]").click()
    expect(page.locator("[data-test=form-error]")).to_contain_text("重叠")
    expect(form.locator("[name=title]")).to_have_value("重复的场次")

    # A practice session: durations instead of times (the time fields hidden and not sent).
    form.locator("[name=kind]").select_option("practice")
    expect(form.locator("[data-test=timed]")).to_be_hidden()
    form.locator("[name=title]").fill("练习")
    form.locator("[name=answer_seconds]").fill("300")
    form.locator("[data-action=create-session]").click()
    expect(page.locator("#toast")).to_contain_text("场次已创建")
    practice = [s for s in ops.http.call("GET", f"/api/v1/ops/exams/{exam['id']}/sessions") if s["kind"] == "practice"]
    assert [(s["title"], s["answer_seconds"], s["waiting_seconds"], s["answer_starts_at"]) for s in practice] == [("练习", 300, 120, None)]
