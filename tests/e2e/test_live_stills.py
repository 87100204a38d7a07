"""Live stills in a mock's answer window: the main phone sends a still of its camera to the in-exam check every few
seconds (the period comes from the server: DUALCAM_LIVE_STILL_SECONDS). Its camera here shows an empty desk: ops see
`live` no_face flags while the candidate answers, the phone shows the gentle hint and is told nothing but "no face";
stills that fail (network, 503) are dropped without a word; the recording completes all the same and, once answering
ended, no still goes out."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.e2e import flows
from tests.e2e.console import log_in, shoot, staff_account
from tests.e2e.recordings import probe, recording_files, require_uploads
from tests.e2e.support import CHROMIUM_FLAGS, T0, E2EServer, Ops, TickingClock, empty_desk_camera

ANSWER_SECONDS = 20
PERIOD = 2
CHECK = "/api/v1/device/face/check"
T = TypeVar("T")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, face_models: Path, chromium: Path) -> Iterator[E2EServer]:
    """A server of its own: stills every PERIOD seconds, and no recording analysis (only the live flags matter)."""
    data = tmp_path_factory.mktemp("e2e-live-stills")
    clock = TickingClock(data / "clock.txt", T0)
    # Every sitting in the review queue (no risk floor), so the console's queue shows this one whatever its score.
    env = {"DUALCAM_LIVE_STILL_SECONDS": str(PERIOD), "DUALCAM_FLAGS_RUNNER_ENABLED": "false", "DUALCAM_FLAGS_REVIEW_MIN_RISK": "0"}
    srv = E2EServer(data, clock, face_models, extra_env=env)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        clock.close()


@pytest.fixture(scope="module")
def ops(server: E2EServer) -> Ops:
    return Ops(server)


@pytest.fixture(scope="module")
def browser(playwright: Any, chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Phones whose camera shows a desk in front of a wall, nobody in the picture."""
    camera = empty_desk_camera(tmp_path_factory.mktemp("empty-desk"))
    launched = playwright.chromium.launch(executable_path=str(chromium), args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={camera}"])
    yield launched
    launched.close()


def pumped(page: Any, check: Callable[[], T], *, timeout: float, what: str) -> T:
    """wait_for, waiting in the page: Playwright runs the route handlers only while the test is in one of its calls."""
    deadline = time.monotonic() + timeout
    while not (last := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}; last: {last!r}"
        page.wait_for_timeout(100)
    return last


def live_flags(ops: Ops, sitting_id: str) -> list[dict[str, Any]]:
    body = ops.http.call("GET", f"/api/v1/ops/sittings/{sitting_id}/flags")
    return [f for f in body["flags"] if f["source"] == "live"]


def test_stills_of_an_empty_picture_flag_no_face_and_hint_the_candidate(server: E2EServer, ops: Ops, phone, desk: Callable[[], Any]) -> None:
    require_uploads(server)
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=ANSWER_SECONDS)
    sitting_id = candidate.sitting(session["id"])["id"]
    main, aux = phone(), phone()
    flows.login(main, server, candidate)
    flows.open_sitting(main, server, session["id"])
    flows.pair(main, aux)
    flows.place_phones(main)
    flows.pass_face_gate_with_photo(main, server, sitting_id)  # this browser's camera shows nobody

    # What the phone is told about each still, and the first two stills failing: one lost on the network, one 503.
    answered: list[Any] = []
    sent: list[str] = []
    main.on("response", lambda r: answered.append(r) if r.url.endswith(CHECK) and r.status == 200 else None)

    def flaky(route: Any) -> None:
        sent.append(route.request.url)
        if len(sent) == 1:
            route.abort("internetdisconnected")
        elif len(sent) == 2:
            body = {"error": {"code": "face_engine_busy", "message": "人脸服务繁忙", "message_en": "Face engine busy"}}
            route.fulfill(status=503, content_type="application/json", body=json.dumps(body))
        else:
            route.continue_()

    main.route(f"**{CHECK}", flaky)
    flows.to_recording(main, aux, server, session)
    pumped(main, lambda: len(sent) >= 2, timeout=3 * PERIOD + 5, what="two stills")
    # Neither failure shows: no error, no toast, still recording, and no hint (no answer said "no face" yet).
    assert main.locator(".banner-bad, #toast.show, [data-test=still-hint]").count() == 0
    assert main.get_attribute("[data-test=recording]", "data-recording") == "true"

    hint = main.wait_for_selector("[data-test=still-hint]", timeout=3 * PERIOD * 1000 + 5000)
    assert hint.text_content() == "请保持面部和上半身在画面中"
    # Ops see the stills' findings while the candidate answers; the phone only ever learnt "no face".
    flags = pumped(main, lambda: len(found := live_flags(ops, sitting_id)) >= 2 and found, timeout=3 * PERIOD + 5, what="live flags")
    assert {(f["kind"], f["role"], f["value"]) for f in flags} == {("no_face", "main", 0.0)}
    assert 0 < flags[0]["start_s"] < flags[1]["start_s"] <= ANSWER_SECONDS
    answers = [r.json() for r in answered]
    assert answers and all(a == {"face_seen": False} for a in answers), answers
    assert main.locator(".banner-bad").count() == 0

    # The recording ends at the end of the window as ever; the stills stop with it.
    ends = flows.answer_ends(session)
    main.wait_for_selector(flows.UPLOADING_OR_DONE, timeout=(ends - server.clock.now()).total_seconds() * 1000 + 10000)
    assert main.locator("[data-test=still-hint]").count() == 0
    after_end = len(sent)
    for page in (main, aux):
        page.wait_for_selector("[data-test=upload-done]", timeout=60000)
    main.wait_for_timeout(2 * PERIOD * 1000 + 500)
    assert len(sent) == after_end, "a still after the answer window"
    pumped(main, lambda: candidate.sitting(session["id"])["state"] == "uploaded", timeout=20, what="the sitting to be uploaded")
    found = probe(recording_files(server, sitting_id)["main"])
    assert abs(found["duration"] - ANSWER_SECONDS) <= 1.0, found
    assert len(live_flags(ops, sitting_id)) >= ANSWER_SECONDS // PERIOD // 2  # about one a period, less the two lost

    # In the staff console the sitting is in its session's review queue, its risk made of those no_face flags.
    page = desk()
    log_in(page, server, staff_account(server, "ops"))
    page.goto(f"{server.url}/console/#/queue/{session['id']}")
    item = page.locator(f"[data-test=queue-item][data-sitting-id='{sitting_id}']")
    item.wait_for()
    assert "未见人脸" in item.inner_text() and item.locator("[data-test=risk]").inner_text().isdigit()
    shoot(page, "queue")
    page.locator("[data-test=filter-kind]").select_option("several_faces")
    page.locator("[data-test=queue-empty]").wait_for()
