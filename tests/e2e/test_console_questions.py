"""Ops set a session's questions in the console: one with its image in the same form, one plain that gets an image
afterwards, and a typo corrected; all come back from the API as entered and the images show on the page; once the waiting window opens
(server time) the page only shows them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from playwright.sync_api import expect

from tests.e2e.console import log_in, shoot, staff_account, until
from tests.e2e.support import E2EServer, Ops, question_picture


def test_ops_add_questions_with_images_until_the_waiting_window_opens(server: E2EServer, ops: Ops, desk: Callable[[], Any]) -> None:
    exam = ops.exam()
    opens = server.clock.now().replace(microsecond=0) + timedelta(minutes=3)
    session = ops.timed_session(exam["id"], "formal", opens, opens + timedelta(minutes=10), opens + timedelta(minutes=20), opens + timedelta(hours=3))
    chart, other = question_picture(800, 500), question_picture(640, 400)

    page = desk()
    log_in(page, server, staff_account(server, "ops"))
    page.locator(f"[data-test=session][data-session-id='{session['id']}'] [data-action=questions]").click()
    expect(page.locator("[data-test=no-questions]")).to_be_visible()

    form = page.locator("[data-test=question-form]")
    form.locator("[name=text]").fill("请描述图中五组数据的变化趋势。")
    form.locator("[name=image]").set_input_files({"name": "chart.png", "mimeType": "image/png", "buffer": chart})
    form.locator("[data-action=add-question]").click()
    expect(page.locator("#toast")).to_contain_text("试题已添加")
    expect(page.locator("[data-test=question-item]")).to_have_count(1)
    page.locator("[data-test=question-form] [name=text]").fill("请谈谈你对团队合作的理解。")
    page.locator("[data-test=question-form] [data-action=add-question]").click()
    expect(page.locator("[data-test=question-item]")).to_have_count(2)
    second = page.locator("[data-test=question-item]").nth(1)
    expect(second).to_have_attribute("data-has-image", "false")
    second.locator("[data-action=attach-image]").set_input_files({"name": "other.png", "mimeType": "image/png", "buffer": other})
    expect(page.locator("[data-test=question-item]").nth(1)).to_have_attribute("data-has-image", "true")

    # A typo corrected in place.
    page.locator("[data-test=question-item]").nth(1).locator("[data-action=edit-question]").click()
    page.locator("[data-test=question-edit] [name=text]").fill("请谈谈你对团队协作的理解。")
    page.locator("[data-test=question-edit] [data-action=save-question]").click()
    expect(page.locator("#toast")).to_contain_text("试题已修改")
    expect(page.locator("[data-test=question-item]").nth(1).locator("[data-test=question]")).to_have_text("2. 请谈谈你对团队协作的理解。")

    images = page.locator("[data-test=question-item] [data-test=question-image]")
    expect(images).to_have_count(2)
    until(page, lambda: all(images.nth(i).evaluate("img => img.naturalWidth") for i in range(2)), timeout=10, what="both images")
    assert [images.nth(i).evaluate("img => img.naturalWidth") for i in range(2)] == [800, 640]
    listed = ops.http.call("GET", f"/api/v1/ops/sessions/{session['id']}/questions")
    assert [(q["position"], q["text"], q["has_image"]) for q in listed] == [(1, "请描述图中五组数据的变化趋势。", True), (2, "请谈谈你对团队协作的理解。", True)]
    stored = ops.http.call("GET", f"/api/v1/ops/sessions/{session['id']}/questions/{listed[0]['id']}/image")
    assert stored.content == chart
    shoot(page, "questions")

    server.clock.set(opens + timedelta(seconds=1))
    page.reload()
    expect(page.locator("[data-test=questions-frozen]")).to_contain_text("候考已开始")
    expect(page.locator("[data-test=question-item]")).to_have_count(2)
    expect(page.locator("[data-test=question-form]")).to_have_count(0)
    expect(page.locator("[data-action=attach-image]")).to_have_count(0)
    expect(page.locator("[data-action=edit-question]")).to_have_count(0)
