"""The main phone before the exam: log-in, exam info with support contacts and notices, confirmation with the
rules, the language switch, the device check, session countdowns in server time on a phone whose clock is off, and
the sessions list: each kind named once, a finished session's result instead of a countdown and a way in."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.e2e.support import E2EServer, Ops, parse_countdown

BEIJING = ZoneInfo("Asia/Shanghai")


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


def test_sessions_name_each_kind_once_and_a_finished_mock_shows_its_result_without_countdown_or_button(
    server: E2EServer, ops: Ops, phone
) -> None:
    exam = ops.exam()
    now = server.clock.now().replace(microsecond=0)
    opens = now + timedelta(minutes=1)
    starts, ends, deadline = opens + timedelta(minutes=1), opens + timedelta(minutes=2), opens + timedelta(minutes=10)
    practice = ops.practice(exam["id"], waiting=60, answer=60, title="练习 Practice")
    mock = ops.timed_session(exam["id"], "mock", opens, starts, ends, deadline, title="模拟考试 Mock")
    tomorrow = opens + timedelta(days=1)
    formal = ops.timed_session(exam["id"], "formal", tomorrow, tomorrow + timedelta(minutes=10), tomorrow + timedelta(minutes=20), tomorrow + timedelta(hours=3), title="2026年某市事业单位公开招聘面试")
    candidate = ops.candidate(exam["id"]).login()
    candidate.confirm()
    page = phone()
    login(page, server, candidate.id_number, candidate.access_code)

    def card(session: dict) -> str:
        return f"[data-session='{session['id']}']"

    def title(session: dict) -> str:
        return page.text_content(f"{card(session)} [data-test=session-title]").strip()

    # The kind once: a title that names it stands alone; one that does not gets the kind as a badge.
    page.goto(f"{server.url}/main/#/sessions")
    page.wait_for_selector(f"{card(mock)} [data-countdown]")
    assert title(practice) == "练习 Practice" and title(mock) == "模拟考试 Mock"
    assert title(formal) == "正式考试 2026年某市事业单位公开招聘面试"
    assert page.text_content(f"{card(formal)} [data-test=kind]") == "正式考试"
    assert page.locator(f"{card(practice)} [data-test=kind], {card(mock)} [data-test=kind]").count() == 0
    # Every time on the card says its zone.
    assert page.text_content(f"{card(mock)} dl").count("北京时间") == 4
    page.click("[data-action=lang]")
    page.wait_for_selector("text=Sessions")
    assert title(practice) == "练习 Practice" and title(formal) == "Formal exam 2026年某市事业单位公开招聘面试"
    page.click("[data-action=lang]")
    page.wait_for_selector("text=考试场次")

    # Answering has ended and the candidate was never ready: 缺考, and nothing left to count down to or enter.
    server.clock.set(ends + timedelta(seconds=1))
    page.reload()
    page.wait_for_selector(f"{card(mock)} [data-test=result][data-state=absent]")
    assert page.text_content(f"{card(mock)} [data-test=state]") == "缺考"
    assert "缺考：候考结束前未完成人脸核验" in page.text_content(f"{card(mock)} [data-test=result]")
    assert page.locator(f"{card(mock)} [data-countdown]").count() == 0
    assert page.locator(f"{card(mock)} [data-action=enter]").count() == 0
    assert page.locator(f"{card(mock)} [data-test=deadline-passed]").count() == 0  # not yet
    assert page.locator(f"{card(formal)} [data-action=enter]").count() == 1  # still to come

    # Past the upload deadline the card says so, with the time and its zone.
    server.clock.set(deadline + timedelta(seconds=1))
    page.reload()
    page.wait_for_selector(f"{card(mock)} [data-test=deadline-passed]")
    assert page.text_content(f"{card(mock)} [data-test=deadline-passed]") == f"上传已于北京时间 {deadline.astimezone(BEIJING):%Y-%m-%d %H:%M} 截止"

    # Opened by its address on a phone that never logged in to it: its result and a way back, not an error.
    sitting_id = candidate.sitting(mock["id"])["id"]
    page.goto(f"{server.url}/main/#/sitting/{sitting_id}")
    page.wait_for_selector("[data-test=final][data-state=absent]")
    assert "缺考" in page.text_content("[data-test=final]")
    assert page.locator("[data-test=deadline-passed]").count() == 1
    assert page.locator("[data-test=error]").count() == 0
    page.click("[data-action=back]")
    page.wait_for_selector(f"{card(mock)} [data-test=result]")
