"""What the screens say: each thing once, buttons named in a text are on the screen, a face comparison that takes a
while says so with its button disabled, and the aux phone says it is ready and when it starts recording."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e import flows
from tests.e2e.support import E2EServer, Ops, parse_countdown

# The buttons a text tells the candidate to tap: 「…」 in Chinese, “…” in English.
NAMED = {"zh-CN": re.compile(r"「([^」]+)」"), "en": re.compile(r"“([^”]+)”")}


def buttons(page: Any) -> list[str]:
    """The visible things a candidate can tap, by their text."""
    return page.eval_on_selector_all(
        "button, a[href], label.btn, [role=button]",
        "els => els.filter((e) => e.offsetParent !== null).map((e) => e.textContent.trim())",
    )


def assert_named_buttons_exist(page: Any, lang: str) -> list[str]:
    text = page.text_content("[data-test=intro]")
    names = NAMED[lang].findall(text)
    assert names, f"the intro names no button: {text!r}"
    on_screen = buttons(page)
    for name in names:
        assert any(label.startswith(name) for label in on_screen), f"{text!r} names {name!r}, not among {on_screen}"
    return names


def test_intro_texts_name_only_buttons_that_are_on_the_screen(server: E2EServer, ops: Ops, phone) -> None:
    exam = ops.exam()
    with_photo = ops.candidate(exam["id"])
    without_photo = ops.candidate(exam["id"], name="王考生", id_photo=None)
    page = phone()

    flows.login(page, server, with_photo)
    assert assert_named_buttons_exist(page, "zh-CN") == ["实名认证", "确认考试", "设备检测", "考试场次"]
    page.click("[data-action=lang]")
    page.wait_for_selector("text=Identity check")
    assert assert_named_buttons_exist(page, "en") == ["Identity check", "Confirm the exam", "Device check", "Sessions"]
    page.click("[data-action=lang]")

    page.click("[data-nav=identity]")
    page.wait_for_selector("[data-action=selfie]")
    assert assert_named_buttons_exist(page, "zh-CN") == ["拍照认证"]

    # No ID photo imported: the text names the upload button, the only one there is (it used to name 拍照认证).
    page = phone()
    flows.login(page, server, without_photo)
    page.click("[data-nav=identity]")
    page.wait_for_selector("[data-action=id-photo]", state="attached")
    assert assert_named_buttons_exist(page, "zh-CN") == ["上传证件照"]
    assert page.locator("[data-action=selfie]").count() == 0
    page.click("[data-action=lang]")
    page.wait_for_selector("text=Upload ID photo")
    assert assert_named_buttons_exist(page, "en") == ["Upload ID photo"]


def hold(page: Any, pattern: str) -> list[Any]:
    """Requests to `pattern` wait, as on a slow uplink, until the test lets each one go."""
    held: list[Any] = []
    page.route(pattern, lambda route: held.append(route))
    return held


def release(page: Any, held: list[Any], how: str = "continue_") -> None:
    """Let the one held request go: the button turns busy before the picture is encoded and sent, so the request
    may reach the route a moment after the spinner shows."""
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1, f"{len(held)} requests held"
    getattr(held.pop(), how)()


def wait_comparing(page: Any, action: str, text: str) -> None:
    page.wait_for_selector(f"[data-action={action}][disabled][aria-busy=true] .spinner")
    assert page.text_content(f"[data-action={action}]").strip() == text


def test_a_selfie_being_compared_shows_a_spinner_with_its_button_disabled(server: E2EServer, ops: Ops, phone) -> None:
    exam = ops.exam()
    # The camera shows person A, the ID photo person B: a real comparison that fails and lets the candidate retry.
    candidate = ops.candidate(exam["id"], id_photo="person_b_1")
    page = phone()
    flows.login(page, server, candidate)
    page.click("[data-nav=identity]")
    page.wait_for_selector("[data-action=selfie]:not([disabled])")
    page.wait_for_function("() => document.querySelector('[data-test=identity] video')?.currentTime > 0.5")
    held = hold(page, "**/api/v1/candidate/identity/selfie")

    page.click("[data-action=selfie]")
    wait_comparing(page, "selfie", "正在比对…")
    release(page, held)
    page.wait_for_selector("[data-action=selfie]:not([disabled])", timeout=20000)
    assert page.text_content("[data-action=selfie]").strip() == "拍照认证"
    # The server's answer is on the screen: a failed comparison (or, on a busy machine, a coaching hint).
    page.wait_for_selector("[data-test=identity] .banner-bad, [data-test=identity] [data-finding]")

    page.click("[data-action=lang]")
    page.click("[data-action=selfie]")
    wait_comparing(page, "selfie", "Comparing…")
    release(page, held)
    page.wait_for_selector("[data-action=selfie]:not([disabled])", timeout=20000)
    assert page.text_content("[data-action=selfie]").strip() == "Take photo"


def test_face_gate_says_comparing_then_ready_once_and_the_aux_phone_when_it_records(server: E2EServer, ops: Ops, phone) -> None:
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=20)
    main, aux = phone(), phone()
    flows.login(main, server, candidate)
    flows.open_sitting(main, server, session["id"])
    flows.pair(main, aux)
    main.wait_for_selector("[data-test=guide]")
    assert main.inner_text("body").count("辅机位已连接") == 1  # the top bar's live pill, not a banner as well
    flows.place_phones(main)
    main.wait_for_selector("[data-action=face-check]:not([disabled])")
    held = hold(main, "**/api/v1/device/face")

    # The request is slow, then lost: the button says what is going on and comes back for another try.
    main.click("[data-action=face-check]")
    wait_comparing(main, "face-check", "正在比对…")
    release(main, held, "abort")
    main.wait_for_selector("[data-action=face-check]:not([disabled])")
    assert main.text_content("[data-action=face-check]").strip() == "开始核验"
    main.wait_for_selector("[data-test=face-error]")

    main.click("[data-action=face-check]")
    wait_comparing(main, "face-check", "正在比对…")
    release(main, held)
    main.wait_for_selector("[data-test=ready][data-ready=true]", timeout=20000)
    # Said once: the ready line says the face check passed (no second banner, no toast).
    assert main.inner_text("body").count("人脸核验通过") == 1, main.inner_text("body")

    # The aux phone: ready, recording at the answer start in the exam's zone, and the countdown to it.
    aux.wait_for_selector("[data-test=aux-ready]")
    starts = flows.answer_starts(session).astimezone(ZoneInfo("Asia/Shanghai"))
    assert aux.text_content("[data-test=aux-ready] h2") == f"已就绪，将于 {starts:%H:%M}（北京时间）开始录制"
    left = parse_countdown(aux.text_content("[data-test=aux-ready] [data-countdown]"))
    assert abs(left - (flows.answer_starts(session) - server.clock.now()).total_seconds()) <= 3
    assert "摆放手机" not in aux.inner_text("body")
    aux.click("[data-action=lang]")
    assert aux.text_content("[data-test=aux-ready] h2") == f"Ready: recording starts at {starts:%H:%M} (Beijing time)"
