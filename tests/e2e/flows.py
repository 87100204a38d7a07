"""Steps a candidate takes on the two phones, shared by the end-to-end tests and `scripts/screenshots.py`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tests.e2e.support import FACES, Candidate, E2EServer, Ops, decode_qr


# The upload screen, or what follows it once the recording is verified (a fast link can pass it in a moment).
UPLOADING_OR_DONE = "main[data-stage=upload], [data-test=final]"


def login(page: Any, server: E2EServer, candidate: Candidate) -> None:
    page.goto(f"{server.url}/main/")
    page.fill("input[name=identifier]", candidate.id_number)
    page.fill("input[name=secret]", candidate.access_code)
    page.click("[data-action=login]")
    page.wait_for_selector("[data-test=notices]")


def open_sitting(page: Any, server: E2EServer, session_id: str) -> None:
    page.goto(f"{server.url}/main/#/sessions")
    page.click(f"[data-session='{session_id}'] [data-action=enter]")
    page.wait_for_selector("main[data-stage]:not([data-stage=loading])")


def scan_qr(main: Any) -> str:
    """Read the QR code off the main phone's screen like the aux phone's camera would: a camera keeps looking
    until a frame decodes, so a frame caught mid-repaint is simply followed by the next one."""
    from playwright.sync_api import Error

    qr = main.locator("[data-test=qr] svg")
    for attempt in range(10):
        try:
            qr.scroll_into_view_if_needed()
            box = qr.bounding_box()
            if box is None:
                raise Error("the QR code is not on the screen")
            # A page screenshot of the QR's area: what is on the screen, even if the app repaints meanwhile.
            clip = {"x": box["x"] - 8, "y": box["y"] - 8, "width": box["width"] + 16, "height": box["height"] + 16}
            text = decode_qr(main.screenshot(clip=clip))
            if text:
                return text
        except Error:  # repainted between finding and measuring it: look again
            pass
        main.wait_for_timeout(200 * (attempt + 1))
    raise AssertionError("the QR code on the main phone's screen does not decode")


def pair(main: Any, aux: Any) -> str:
    """The aux phone opens the URL in the main phone's QR code; both see each other online."""
    url = scan_qr(main)
    assert "/aux/#pair=" in url
    aux.goto(url)
    aux.wait_for_selector("[data-test=main-status][data-online=true]")
    main.wait_for_selector("[data-test=aux-status][data-online=true]")
    return url


def place_phones(main: Any) -> None:
    main.wait_for_selector("[data-test=guide]")
    main.click("[data-action=guide-done]")
    main.wait_for_selector("[data-test=face]")


def pass_face_gate(main: Any) -> None:
    main.click("[data-action=face-check]")
    main.wait_for_selector("[data-test=ready][data-ready=true]", timeout=20000)


def pass_face_gate_with_photo(main: Any, server: E2EServer, sitting_id: str, photo: str = "person_a_2") -> None:
    """The face gate passed with a photo sent over HTTP with the main phone's own device token: for a camera that
    shows nobody (the candidate passed the gate, then left the picture)."""
    token = main.evaluate(f"JSON.parse(localStorage.getItem('dualcam.main.device.{sitting_id}')).token")
    files = {"image": (f"{photo}.jpg", (FACES / f"{photo}.jpg").read_bytes(), "image/jpeg")}
    answer = httpx.post(f"{server.url}/api/v1/device/face", files=files, headers={"Authorization": f"Bearer {token}"}, timeout=20)
    assert answer.status_code == 200 and answer.json()["passed"], answer.text
    main.wait_for_selector("[data-test=ready][data-ready=true]", timeout=20000)


def to_ready(main: Any, aux: Any, server: E2EServer, candidate: Candidate, session_id: str) -> None:
    """Log in on the main phone, open the sitting, pair the aux, place both phones, pass the face gate."""
    login(main, server, candidate)
    open_sitting(main, server, session_id)
    pair(main, aux)
    place_phones(main)
    pass_face_gate(main)


def to_recording(main: Any, aux: Any, server: E2EServer, session: dict[str, Any]) -> None:
    """Move the server's clock to 2 s before answer start; both phones start recording."""
    server.clock.set(answer_starts(session) - timedelta(seconds=2))
    main.wait_for_selector("[data-test=recording][data-recording=true]", timeout=10000)
    aux.wait_for_selector("[data-test=recording][data-recording=true]", timeout=10000)


def exam_with_mock(
    ops: Ops, server: E2EServer, *, answer_seconds: int, waiting_minutes: int = 5, ready_candidate: bool = True,
    question_image: bytes | None = None, **exam_fields: Any,
) -> tuple[dict[str, Any], dict[str, Any], Candidate]:
    """An exam with a mock session whose waiting room opened a second ago, a question (with `question_image`, a PNG,
    if given), and a candidate (ID photo person_a_1; the fake camera shows person_a_2), confirmed and
    identity-verified over the API unless `ready_candidate` is false (then the test does it in the app)."""
    exam = ops.exam(**exam_fields)
    now = server.clock.now().replace(microsecond=0)
    opens = now + timedelta(minutes=1)  # questions are frozen once the waiting room opens: add them first
    starts = opens + timedelta(minutes=waiting_minutes)
    session = ops.timed_session(exam["id"], "mock", opens, starts, starts + timedelta(seconds=answer_seconds), starts + timedelta(minutes=30))
    question = ops.question(session["id"], "请结合岗位要求，谈谈你如何在一周内熟悉新的工作环境。")
    if question_image is not None:
        ops.question_image(session["id"], question["id"], question_image)
    candidate = ops.candidate(exam["id"]).login()
    if ready_candidate:
        candidate.confirm()
        candidate.verify_identity()
    server.clock.set(opens + timedelta(seconds=1))
    return exam, session, candidate


def answer_starts(session: dict[str, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(session["answer_starts_at"])


def answer_ends(session: dict[str, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(session["answer_ends_at"])


def answered(main: Any, aux: Any, server: E2EServer, candidate: Candidate, session: dict[str, Any], answer_seconds: int) -> None:
    """Both phones through the waiting room, recording through the answer window, until both uploads are done."""
    to_ready(main, aux, server, candidate, session["id"])
    to_recording(main, aux, server, session)
    for page in (main, aux):
        page.wait_for_selector("[data-test=upload-done]", timeout=(answer_seconds + 60) * 1000)
