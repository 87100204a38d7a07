"""The staff console's way in: log-in, the sessions of the exams one may read, the language switch, log-out (the token
is revoked, not only forgotten)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from tests.e2e.console import log_in, shoot, staff_account
from tests.e2e.support import E2EServer, Ops


def test_a_reviewer_logs_in_sees_only_the_assigned_exam_and_logs_out(server: E2EServer, ops: Ops, desk: Callable[[], Any]) -> None:
    mine = ops.exam(title="二〇二六年度公开招聘面试")
    other = ops.exam(title="另一场考试")
    now = server.clock.now().replace(microsecond=0)
    formal = ops.timed_session(mine["id"], "formal", now + timedelta(hours=1), now + timedelta(hours=1, minutes=10), now + timedelta(hours=1, minutes=20), now + timedelta(hours=4), title="正式面试 第一场")
    reviewer = staff_account(server, "reviewer", mine["id"])

    page = desk()
    page.goto(f"{server.url}/console/")
    page.locator("[data-test=login] input[name=username]").fill(reviewer.username)
    page.locator("[data-test=login] input[name=password]").fill("wrong-password-1")
    page.errors_expected.append("status of 401")  # the refused log-in, which the page shows
    page.locator("[data-test=login] button[type=submit]").click()
    assert page.locator("[data-test=error]").inner_text() == "账号或密码错误"

    log_in(page, server, reviewer)
    assert page.locator("[data-test=who]").inner_text() == f"{reviewer.username} · 审核员"
    exams = page.locator("[data-test=exam]")
    exams.first.wait_for()
    assert [e.get_attribute("data-exam-id") for e in exams.all()] == [mine["id"]]
    assert other["title"] not in page.content()
    row = page.locator(f"[data-test=session][data-session-id='{formal['id']}']")
    assert "北京时间" in row.inner_text()
    shoot(page, "sessions")

    page.locator("[data-action=lang]").click()
    page.locator("text=Staff console").first.wait_for()
    assert "Reviewer" in page.locator("[data-test=who]").inner_text()
    assert "Beijing time" in row.inner_text()
    page.locator("[data-action=lang]").click()

    token = page.evaluate("JSON.parse(sessionStorage.getItem('dualcam.console.staff')).token")
    page.locator("[data-action=logout]").click()
    page.locator("[data-test=login]").wait_for()
    shoot(page, "login")
    answer = httpx.get(f"{server.url}/api/v1/ops/exams", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401
