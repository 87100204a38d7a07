"""A phone another phone replaced, in Chromium: two main phones (two browser contexts) taking the role from each
other in the waiting room and while recording, and two aux phones doing the same by scanning the main phone's code.

The replaced phone shows the full screen with the time of the takeover (北京时间), the exam's support contacts and
"在本机重新登录"; it stops recording (no REC, its stored bytes stop growing) and sends nothing more with its refused
token — not one upload request after the first 401. Logging in again on it takes the role back (the other phone now
shows the screen), and the chunks it had not sent go up: its recording continues as the same file and ends verified.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.e2e import flows
from tests.e2e.recordings import probe, recording_files, require_uploads
from tests.e2e.support import E2EServer, Ops, wait_for

BEIJING = ZoneInfo("Asia/Shanghai")
SCREEN = "[data-test=replaced]"
TITLE = re.compile(r"^此设备已被另一台手机取代（时间 (\d{2}:\d{2}:\d{2}) 北京时间）$")
OTHER = re.compile(r"^已取代本机位之前登录的手机（(\d{2}:\d{2}:\d{2}) 北京时间）$")


class Traffic:
    """Everything a page sends and what comes back, in order, with the bearer token each request carried."""

    def __init__(self, page: Any) -> None:
        self.log: list[tuple[str, str, str, str | None, int | None]] = []  # (kind, method, url, token, status)
        page.on("request", lambda r: self.log.append(("request", r.method, r.url, _bearer(r.headers), None)))
        page.on("response", lambda r: self.log.append(("response", r.request.method, r.url, _bearer(r.request.headers), r.status)))

    def mark(self) -> int:
        return len(self.log)

    def requests_with(self, token: str, since: int = 0) -> list[tuple[str, str]]:
        return [(method, url) for kind, method, url, bearer, _ in self.log[since:] if kind == "request" and bearer == token]

    def first_refusal(self, token: str) -> int | None:
        """Where the first 401 answered to `token` is in the log."""
        for i, (kind, _, _, bearer, status) in enumerate(self.log):
            if kind == "response" and bearer == token and status == 401:
                return i
        return None


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization") or ""
    return value[7:] if value.startswith("Bearer ") else None


class Socket:
    """The page's realtime socket through Playwright, so a test can make the server's messages to it go missing (a
    phone whose connection stalled): it then learns of its replacement from its next request's 401."""

    def __init__(self, page: Any) -> None:
        self.lines: list[dict[str, bool]] = []
        page.context.route_web_socket(re.compile(r".*/api/v1/ws.*"), self._route)

    def _route(self, ws: Any) -> None:
        line = {"silent": False}
        self.lines.append(line)
        server = ws.connect_to_server()
        ws.on_message(lambda message: None if line["silent"] else server.send(message))
        server.on_message(lambda message: None if line["silent"] else ws.send(message))
        server.on_close(lambda code, reason: None if line["silent"] else ws.close(code=code, reason=reason))

    def stall(self) -> None:
        """The sockets open now go silent both ways (later ones work)."""
        for line in self.lines:
            line["silent"] = True


def device_token(page: Any, sitting_id: str | None = None) -> str:
    key = f"dualcam.main.device.{sitting_id}" if sitting_id else "dualcam.aux.device"
    return page.evaluate("key => JSON.parse(localStorage.getItem(key)).token", key)


def stored(page: Any, role: str, sitting_id: str) -> dict[str, Any]:
    """The phone's IndexedDB record of its recording (bytes written and acknowledged, stopped, segments)."""
    return page.evaluate(
        "async (key) => { const r = await (await import('/common/store.js')).getRecording(key);"
        " return r && {written: r.bytesWritten, acked: r.ackedOffset, stopped: r.stopped, segments: r.segments, url: r.uploadUrl}; }",
        f"{role}:{sitting_id}",
    )


def wait_stored(page: Any, role: str, sitting_id: str, check: Any, what: str) -> dict[str, Any]:
    """Poll the phone's record (through the page, so its events keep flowing) until `check(record)` holds."""
    for _ in range(150):
        record = stored(page, role, sitting_id)
        if record and check(record):
            return record
        page.wait_for_timeout(100)
    raise AssertionError(f"{what}: {stored(page, role, sitting_id)}")


def replaced_events(ops: Ops, sitting_id: str) -> list[dict[str, Any]]:
    return [e for e in ops.events(sitting_id) if e["kind"] == "device_replaced"]


def beijing_clock(at: str) -> str:
    return datetime.fromisoformat(at).astimezone(BEIJING).strftime("%H:%M:%S")


def check_replaced_screen(page: Any, event: dict[str, Any]) -> None:
    """The full screen, with the server's time of the takeover in the exam's zone, whom to call and the button."""
    page.wait_for_selector(SCREEN, timeout=15000)
    title = page.text_content("[data-test=replaced-time]").strip()
    match = TITLE.match(title)
    assert match, title
    assert match.group(1) == beijing_clock(event["at"]), (title, event)
    support = page.text_content("[data-test=replaced-support]")
    for contact in ("电话 400-800-1234", "QQ 123456", "微信 dualcam-help", "服务时间 每天 08:00–20:00"):
        assert contact in support, support
    assert page.is_visible("[data-action=relogin]") and page.text_content("[data-action=relogin]").strip() == "在本机重新登录"
    # Nothing of the sitting is left on it: no recording pill, no REC on a preview.
    assert page.locator("[data-test=recording]").count() == 0
    assert page.locator(".rec").count() == 0


def check_other_line(page: Any, event: dict[str, Any]) -> None:
    page.wait_for_selector("[data-test=replaced-other]")
    match = OTHER.match(page.text_content("[data-test=replaced-other]").strip())
    assert match and match.group(1) == beijing_clock(event["at"]), page.text_content("[data-test=replaced-other]")


def quiet(page: Any, traffic: Traffic, token: str, seconds: float = 4) -> None:
    """Nothing more goes out with the refused token (the phone's timers and back-offs included)."""
    page.wait_for_timeout(1000)  # whatever was on its way when the screen came up
    since = traffic.mark()
    page.wait_for_timeout(seconds * 1000)
    assert traffic.requests_with(token, since) == [], traffic.requests_with(token, since)


def test_two_main_phones_take_the_role_from_each_other_in_the_waiting_room(server: E2EServer, ops: Ops, phone) -> None:
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=12)
    first, aux, second = phone(), phone(), phone()
    flows.to_ready(first, aux, server, candidate, session["id"])
    sitting_id = candidate.sitting(session["id"])["id"]
    first_token = device_token(first, sitting_id)
    first_traffic = Traffic(first)

    # The candidate logs in on a second phone and opens the sitting: it takes the main role over.
    flows.login(second, server, candidate)
    flows.open_sitting(second, server, session["id"])
    (event,) = replaced_events(ops, sitting_id)
    check_other_line(second, event)
    check_replaced_screen(first, event)
    assert event["details"]["role"] == "main" and event["details"]["replaced_by"] != event["device_id"]
    quiet(first, first_traffic, first_token)
    # Told over its socket at once: it never even needed a 401.
    assert first_traffic.first_refusal(first_token) is None
    # The same in English.
    from playwright.sync_api import expect

    first.click("[data-action=lang]")
    english = rf"^This phone was replaced by another phone \(at {beijing_clock(event['at'])} Beijing time\)$"
    expect(first.locator("[data-test=replaced-time]")).to_have_text(re.compile(english))
    expect(first.locator("[data-action=relogin]")).to_have_text("Log in again on this phone")
    first.click("[data-action=lang]")
    expect(first.locator("[data-action=relogin]")).to_have_text("在本机重新登录")
    # A reload does not silently take the role back: the refused token says why again.
    first.reload()
    check_replaced_screen(first, event)

    # "在本机重新登录" on the first phone: the role comes back to it, the second phone gets the screen.
    second_token = device_token(second, sitting_id)
    second_traffic = Traffic(second)
    first.click("[data-action=relogin]")
    first.wait_for_selector("[data-test=wait]")
    back = replaced_events(ops, sitting_id)[-1]
    assert back["details"]["replaced_by"] != event["details"]["replaced_by"]
    check_other_line(first, back)
    check_replaced_screen(second, back)
    quiet(second, second_traffic, second_token)
    first.wait_for_selector("[data-test=aux-status][data-online=true]")


def test_a_main_phone_replaced_while_recording_stops_at_the_first_401_and_finishes_after_logging_in_again(server: E2EServer, ops: Ops, phone) -> None:
    require_uploads(server)
    answer = 40
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=answer)
    first, aux, second = phone(), phone(), phone()
    socket = Socket(first)
    flows.to_ready(first, aux, server, candidate, session["id"])
    flows.to_recording(first, aux, server, session)
    sitting_id = candidate.sitting(session["id"])["id"]
    starts = flows.answer_starts(session)
    first_token = device_token(first, sitting_id)
    first_traffic = Traffic(first)
    wait_stored(first, "main", sitting_id, lambda r: r["acked"] > 0, "some of the recording uploaded")

    # Its connection stalls, so the server's word that it was replaced never reaches it; meanwhile the candidate
    # opens the sitting on a second phone.
    socket.stall()
    flows.login(second, server, candidate)
    flows.open_sitting(second, server, session["id"])
    (event,) = replaced_events(ops, sitting_id)
    check_other_line(second, event)

    # The first phone's next upload request is refused: it stops there and says so.
    check_replaced_screen(first, event)
    refusal = first_traffic.first_refusal(first_token)
    assert refusal is not None, first_traffic.log
    assert "/api/v1/uploads/" in first_traffic.log[refusal][2]
    quiet(first, first_traffic, first_token)
    after = [r for r in first_traffic.requests_with(first_token, refusal) if "/api/v1/uploads/" in r[1]]
    assert after == [], after
    # Recording stopped, the recording left open, and what it had not sent is still on the phone.
    paused = stored(first, "main", sitting_id)
    assert not paused["stopped"] and paused["written"] > paused["acked"] > 0, paused
    first.wait_for_timeout(2500)
    assert stored(first, "main", sitting_id)["written"] == paused["written"]  # no recorder writes any more

    # "在本机重新登录": the role comes back, the second phone gets the screen, the first records on (the same file).
    first.click("[data-action=relogin]")
    first.wait_for_selector("[data-test=recording][data-recording=true]", timeout=15000)
    resumed_at = (server.clock.now() - starts).total_seconds()
    back = replaced_events(ops, sitting_id)[-1]
    assert back["device_id"] == event["details"]["replaced_by"]
    check_replaced_screen(second, back)
    wait_stored(first, "main", sitting_id, lambda r: r["acked"] > paused["written"], "the chunks kept while out uploaded")
    assert stored(first, "main", sitting_id)["segments"] == 2

    # A few seconds more, then the session's answer window ends (the clock moves there): both recordings verified.
    first.wait_for_timeout(4000)
    server.clock.set(flows.answer_ends(session))
    for page in (first, aux):
        page.wait_for_selector("[data-test=upload-done]", timeout=60000)
    wait_for(lambda: candidate.sitting(session["id"])["state"] == "uploaded", timeout=30, what="the sitting to be uploaded")
    main_file = probe(recording_files(server, sitting_id)["main"])
    # One file from the start through the part recorded after logging in again (with a gap while it was out).
    assert main_file["first"] < 1.0 and main_file["last"] > resumed_at + 2, (main_file, resumed_at)
    assert main_file["video_frames"] > 0


def test_an_aux_phone_replaced_by_another_pairs_again_by_scanning_and_finishes_its_recording(server: E2EServer, ops: Ops, phone) -> None:
    require_uploads(server)
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=40)
    main, first, second = phone(), phone(), phone()
    flows.to_ready(main, first, server, candidate, session["id"])
    flows.to_recording(main, first, server, session)
    sitting_id = candidate.sitting(session["id"])["id"]
    first_token = device_token(first)
    first_traffic = Traffic(first)
    wait_stored(first, "aux", sitting_id, lambda r: r["acked"] > 0, "some of the recording uploaded")

    # Another phone scans a code the main phone shows while its aux is online ("更换辅机位").
    main.click("[data-action=replace-aux]")
    url = flows.scan_qr(main)
    second.goto(url)
    second.wait_for_selector("[data-test=recording][data-recording=true]", timeout=15000)
    (event,) = replaced_events(ops, sitting_id)
    assert event["details"]["role"] == "aux"
    check_other_line(second, event)
    check_replaced_screen(first, event)
    quiet(first, first_traffic, first_token)
    paused = stored(first, "aux", sitting_id)
    assert not paused["stopped"] and paused["acked"] > 0, paused

    # The aux phone has no account: its button says how to come back (scan the main phone's code again).
    assert first.locator("[data-test=repair-steps]").count() == 0
    first.click("[data-action=relogin]")
    first.wait_for_selector("[data-test=repair-steps]")
    assert "更换辅机位" in first.text_content("[data-test=repair-steps]")
    main.wait_for_selector("[data-test=replace-aux] [data-test=qr]", state="detached", timeout=15000)  # done with the first code
    main.click("[data-action=replace-aux]")
    first.goto(flows.scan_qr(main))
    first.wait_for_selector("[data-test=recording][data-recording=true]", timeout=15000)
    back = replaced_events(ops, sitting_id)[-1]
    assert back["device_id"] == event["details"]["replaced_by"]
    check_replaced_screen(second, back)
    check_other_line(first, back)
    wait_stored(first, "aux", sitting_id, lambda r: r["acked"] > paused["written"], "the chunks kept while out uploaded")
    assert stored(first, "aux", sitting_id)["segments"] == 2

    first.wait_for_timeout(3000)
    server.clock.set(flows.answer_ends(session))
    for page in (main, first):
        page.wait_for_selector("[data-test=upload-done]", timeout=60000)
    wait_for(lambda: candidate.sitting(session["id"])["state"] == "uploaded", timeout=30, what="the sitting to be uploaded")
    assert probe(recording_files(server, sitting_id)["aux"])["video_frames"] > 0
