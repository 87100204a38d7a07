"""Ops set an exam's conduct rules on the results page: each violation reason with 计零分 or 取消资格, the default
marked; a change is saved for the exam (the API reads it back), stays after a reload, and setting it back to the
default leaves the exam on the defaults again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from tests.e2e.console import log_in, shoot, staff_account
from tests.e2e.support import E2EServer, Ops


def test_ops_set_what_a_violation_does_to_the_result_per_exam(server: E2EServer, ops: Ops, desk: Callable[[], Any]) -> None:
    exam = ops.exam()
    opens = server.clock.now().replace(microsecond=0) + timedelta(days=2)
    session = ops.timed_session(exam["id"], "formal", opens, opens + timedelta(minutes=10), opens + timedelta(minutes=20), opens + timedelta(hours=3))
    url = f"/api/v1/ops/exams/{exam['id']}/conduct-rules"
    defaults = {r["code"]: r["default"] for r in ops.http.call("GET", url)}

    page = desk()
    log_in(page, server, staff_account(server, "ops"))
    page.goto(f"{server.url}/console/#/results/{session['id']}")
    card = page.locator("[data-test=conduct-rules]")
    expect(card.locator("[data-test=conduct-rule]")).to_have_count(len(defaults))
    rule = card.locator("[data-test=conduct-rule][data-code=beauty_filter]")
    expect(rule).to_contain_text("使用美颜或滤镜")
    select = rule.locator("select")
    expect(select).to_have_value("zero")
    assert (select.locator("option:checked").inner_text(), rule.locator("[data-test=rule-mark]").inner_text()) == ("计零分", "默认")

    select.select_option("disqualify")
    card.locator("[data-action=save-rules]").click()
    expect(page.locator("#toast")).to_contain_text("规则已保存")
    changed = card.locator("[data-test=conduct-rule][data-code=beauty_filter]")
    expect(changed).to_have_attribute("data-consequence", "disqualify")
    expect(changed.locator("[data-test=rule-mark]")).to_have_text("已调整")
    saved = {r["code"]: r["consequence"] for r in ops.http.call("GET", url)}
    assert saved == {**defaults, "beauty_filter": "disqualify"}
    shoot(page, "conduct-rules")

    page.reload()
    expect(page.locator("[data-test=conduct-rule][data-code=beauty_filter] select")).to_have_value("disqualify")
    page.locator("[data-test=conduct-rule][data-code=beauty_filter] select").select_option("zero")
    page.locator("[data-action=save-rules]").click()
    expect(page.locator("[data-test=conduct-rule][data-code=beauty_filter]")).to_have_attribute("data-consequence", "zero")
    assert {r["code"]: r["consequence"] for r in ops.http.call("GET", url)} == defaults
