"""The main phone before the exam: log-in, exam info with support contacts and notices, confirmation with the
rules, the language switch, the device check, and session countdowns in server time on a phone whose clock is off."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from tests.e2e.support import E2EServer, Ops, parse_countdown


def login(page: object, server: E2EServer, identifier: str, secret: str) -> None:
    page.goto(f"{server.url}/main/")  # type: ignore[attr-defined]
    page.fill("input[name=identifier]", identifier)  # type: ignore[attr-defined]
    page.fill("input[name=secret]", secret)  # type: ignore[attr-defined]
    page.click("[data-action=login]")  # type: ignore[attr-defined]
    page.wait_for_selector("[data-test=notices]")  # type: ignore[attr-defined]


def test_login_shows_exam_support_and_notices_then_confirm_with_rules(server: E2EServer, ops: Ops, phone) -> None:
    exam = ops.exam(title="2026年市属事业单位招聘面试")
    ops.notice(exam["id"], "考前须知", "请准备两部手机并保持充电。", pinned=True)
    ops.notice(exam["id"], "设备要求", "安卓 8 以上或 iOS 14 以上。")
    candidate = ops.candidate(exam["id"], name="李明")
    page = phone()

    page.goto(f"{server.url}/main/")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.fill("input[name=identifier]", candidate.id_number)
    page.fill("input[name=secret]", "WRONG123")
    page.click("[data-action=login]")
    assert "账号或密码错误" in page.text_content("[data-test=error]")

    login(page, server, candidate.id_number, candidate.access_code)
    exam_card = page.text_content("[data-test=exam]")
    assert "2026年市属事业单位招聘面试" in exam_card and "某市人才服务中心" in exam_card and "李明" in exam_card
    support = page.text_content("[data-test=support]")
    assert "400-800-1234" in support and "每天 08:00–20:00" in support and "dualcam-help" in support
    notices = page.locator("[data-test=notices] article")
    assert notices.count() == 2
    assert "考前须知" in notices.nth(0).text_content() and "置顶" in notices.nth(0).text_content()
    assert "未确认考试" in page.text_content("[data-nav=confirm]")

    page.click("[data-nav=confirm]")
    assert "不得退出视频录制过程" in page.text_content("[data-test=rules]")
    submit = page.locator("[data-action=confirm]")
    assert submit.is_disabled()  # the rules must be accepted first
    page.check("input[name=accept]")
    submit.click()
    page.wait_for_selector("[data-test=confirmed]")
    assert candidate.login().http.call("GET", "/api/v1/candidate/me")["confirmed_at"] is not None

    # English on request, remembered across a reload.
    page.click("[data-action=lang]")
    page.wait_for_selector("text=Confirm the exam")
    page.reload()
    page.wait_for_selector("[data-test=confirmed]")
    assert "Exam confirmed" in page.text_content("[data-test=confirmed]")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.click("[data-action=lang]")
    page.wait_for_selector("text=已确认考试")


def test_device_check_reports_camera_microphone_network_storage_and_battery(server: E2EServer, ops: Ops, phone) -> None:
    exam = ops.exam()
    candidate = ops.candidate(exam["id"])
    page = phone()
    login(page, server, candidate.id_number, candidate.access_code)
    page.click("[data-nav=check]")
    page.wait_for_selector("[data-test=check-summary]")
    for name in ("camera", "microphone", "network", "storage"):
        assert page.get_attribute(f"[data-check={name}]", "data-ok") == "true", page.text_content(f"[data-check={name}]")
    assert "480×640" in page.text_content("[data-check=camera]")  # the fake camera: a portrait test photo
    assert " ms" in page.text_content("[data-check=network]")
    # Headless chromium reports a battery that is not charging: the candidate is told to plug in.
    battery = page.get_attribute("[data-check=battery]", "data-ok")
    if battery == "false":
        assert "充电" in page.text_content("[data-test=charging-warning]")
    # Chromium's fake microphone beeps for a moment every half second: the meter must show it, not stay empty
    # (it used to read a 10 ms snapshot ten times a second, which mostly fell between the beeps).
    page.wait_for_function(
        "() => { const m = document.querySelector('[data-test=mic-level]');"
        " return m && Number(m.dataset.level) >= 0.3 && parseFloat(m.firstElementChild.style.width) >= 30; }",
        timeout=5000,
    )


def test_session_countdown_follows_server_time_when_the_phone_clock_is_7_minutes_off(server: E2EServer, ops: Ops, phone) -> None:
    exam = ops.exam()
    now = server.clock.now()
    opens = (now + timedelta(hours=1)).replace(microsecond=0)
    ops.timed_session(exam["id"], "mock", opens, opens + timedelta(minutes=5), opens + timedelta(minutes=10), opens + timedelta(hours=1))
    candidate = ops.candidate(exam["id"])
    page = phone()
    # The phone's clock: real time shifted by 7 minutes (the server's runs on its own file clock anyway).
    page.context.clock.install(time=datetime.now() + timedelta(minutes=7))
    login(page, server, candidate.id_number, candidate.access_code)
    shift = page.evaluate("Date.now()") / 1000 - time.time()
    assert abs(shift - 420) < 5, shift

    page.goto(f"{server.url}/main/#/sessions")
    countdown = page.locator("[data-kind=mock] [data-countdown]")
    countdown.wait_for()
    expected = (opens - server.clock.now()).total_seconds()
    shown = parse_countdown(countdown.text_content())
    assert "距候考开始" in countdown.text_content()
    assert abs(shown - expected) <= 2, (shown, expected)
    # It runs down with server time.
    page.wait_for_function(
        "([sel, before]) => { const m = document.querySelector(sel).textContent.match(/(\\d+):(\\d{2})$/); return m && (+m[1]) * 60 + (+m[2]) <= before - 2; }",
        arg=["[data-kind=mock] [data-countdown]", shown],
        timeout=6000,
    )
