"""A sitting's review in the staff console, after a mock answered by two phones in Chromium and analysed for real:
both recordings play under one control and stay within 0.3 s of each other (aligned on each recording's start in
server time), seek by keys and by the timeline's flag markers, change speed together; a reviewer claims the sitting,
confirms a flag, adds an incident at the player's position and finds a violation, which takes effect only when a
second reviewer confirms it. Every view of a recording is audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e import flows
from tests.e2e.console import log_in, shoot, staff_account, until
from tests.e2e.recordings import require_uploads
from tests.e2e.support import T0, E2EServer, Ops, TickingClock, question_picture

ANSWER_SECONDS = 20
TOLERANCE = 0.3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, face_models: Path, chromium: Path) -> Iterator[E2EServer]:
    """The server runs its analysis (off in the other e2e servers); every sampled picture counts as too dark, so the
    analysis flags poor_video on both phones for sure."""
    data = tmp_path_factory.mktemp("e2e-review")
    clock = TickingClock(data / "clock.txt", T0)
    env = {"DUALCAM_FLAGS_RUNNER_ENABLED": "true", "DUALCAM_FLAGS_DARK_LUMA": "255", "DUALCAM_FLAGS_POOR_VIDEO_SECONDS": "5", "DUALCAM_FLAGS_REVIEW_MIN_RISK": "0"}
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


def answered_and_analysed(server: E2EServer, ops: Ops, phone: Callable[..., Any]) -> tuple[dict[str, Any], dict[str, Any], str]:
    exam, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=ANSWER_SECONDS, question_image=question_picture())
    sitting_id = candidate.sitting(session["id"])["id"]
    main, aux = phone(), phone()
    flows.answered(main, aux, server, candidate, session, ANSWER_SECONDS)
    flagged = lambda: {f["role"] for f in ops.http.call("GET", f"/api/v1/ops/sittings/{sitting_id}/flags")["flags"] if f["kind"] == "poor_video"} == {"main", "aux"}  # noqa: E731
    analysis = lambda: ops.http.call("GET", f"/api/v1/ops/sittings/{sitting_id}/flags")["analysis"]  # noqa: E731
    until(main, flagged, timeout=120, what="poor_video flags of both recordings", status=analysis)
    main.close()
    aux.close()
    return exam, session, sitting_id


def video_times(page: Any) -> dict[str, float]:
    return {role: page.locator(f"[data-test=video-{role}]").evaluate("v => v.currentTime") for role in ("main", "aux")}


def test_a_reviewer_watches_both_videos_in_sync_marks_and_a_second_confirms_the_violation(
    server: E2EServer, ops: Ops, phone: Callable[..., Any], desk: Callable[[], Any]
) -> None:
    require_uploads(server)
    exam, session, sitting_id = answered_and_analysed(server, ops, phone)
    flags = ops.http.call("GET", f"/api/v1/ops/sittings/{sitting_id}/flags")
    starts = datetime.fromisoformat(session["answer_starts_at"])
    offset = {role: (datetime.fromisoformat(at) - starts).total_seconds() for role, at in flags["recording_started_at"].items()}
    first, second = staff_account(server, "reviewer", exam["id"]), staff_account(server, "reviewer", exam["id"])

    page = desk()
    log_in(page, server, first)
    page.goto(f"{server.url}/console/#/sitting/{sitting_id}")
    for role in ("main", "aux"):
        video = page.locator(f"[data-test=video-{role}]")
        until(page, lambda: video.evaluate("v => v.readyState") >= 2, timeout=20, what=f"the {role} video to load")
    # The question as the candidate saw it, with its image (fetched with the staff token).
    expect(page.locator("[data-test=question]")).to_have_count(1)
    until(page, lambda: page.locator("[data-test=question-image]").evaluate("img => img.naturalWidth"), timeout=10, what="the question image")
    assert page.locator("[data-test=question-image]").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [800, 500]
    expect(page.locator("[data-test=mark][data-kind=poor_video]")).to_have_count(2)

    # One control plays both, and they show the same instant of the answer window.
    page.locator("[data-action=play]").click()
    page.wait_for_timeout(1500)
    for _ in range(3):
        times = video_times(page)
        assert times["main"] > 0.5, times
        assert abs((times["main"] + offset["main"]) - (times["aux"] + offset["aux"])) <= TOLERANCE, (times, offset)
        page.wait_for_timeout(400)
    page.locator("[data-test=speed]").select_option("2")
    rates = {role: page.locator(f"[data-test=video-{role}]").evaluate("v => v.playbackRate") for role in ("main", "aux")}
    assert all(1.7 <= r <= 2.3 for r in rates.values()), rates  # 2×, give or take the follower's catch-up
    page.keyboard.press(" ")  # pause
    # Seeking: +5 s by key, and a click on a flag marker moves both videos there.
    before = float(page.locator("[data-test=position]").get_attribute("data-seconds"))
    page.keyboard.press("ArrowRight")
    after = float(page.locator("[data-test=position]").get_attribute("data-seconds"))
    assert abs(after - before - 5) < 0.5, (before, after)
    marker = page.locator("[data-test=mark][data-lane=aux]").first
    marker.click()
    aux_flag = next(f for f in flags["flags"] if f["kind"] == "poor_video" and f["role"] == "aux")
    target = (datetime.fromisoformat(aux_flag["started_at"]) - starts).total_seconds()
    page.wait_for_timeout(300)
    times = video_times(page)
    assert abs(times["aux"] + offset["aux"] - target) <= TOLERANCE and abs(times["main"] + offset["main"] - target) <= TOLERANCE, (times, target)

    # A click at 60% of the timeline seeks both videos to that instant of the answer window.
    track = page.locator("[data-test=timeline] [data-lane=events] .track")
    box = track.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    times = video_times(page)
    target = 0.6 * ANSWER_SECONDS
    assert abs(times["main"] + offset["main"] - target) <= TOLERANCE and abs(times["aux"] + offset["aux"] - target) <= TOLERANCE, (times, target)
    assert abs(times["main"] + offset["main"] - (times["aux"] + offset["aux"])) <= TOLERANCE, times

    # The review: claim, confirm a flag, an incident at the player's position, a violation awaiting a second look.
    page.locator("[data-action=claim]").click()
    expect(page.locator("[data-test=claim]")).to_contain_text("由您审核")
    flag_row = page.locator("[data-test=flag]").first
    flag_row.locator("input.note").fill("画面过暗")
    flag_row.locator("[data-action=confirm-flag]").click()
    expect(page.locator("[data-test=flag][data-verdict=confirmed]")).to_have_count(1)
    page.locator("[data-test=incident-reason]").select_option("other_person")
    page.locator("[data-action=add-incident]").click()
    expect(page.locator("[data-test=mark][data-lane=incidents]")).to_have_count(1)
    page.locator("input[name=outcome][value=violation]").check()
    page.locator("input[name=reason][value=other_person]").check()
    page.locator("textarea[name=decision-note]").fill("身后有人走过")
    page.locator("[data-action=decide]").click()
    expect(page.locator("[data-test=awaiting-second]")).to_be_visible()
    expect(page.locator("[data-test=version][data-status=awaiting_second]")).to_have_count(1)
    shoot(page, "review")

    other = desk()
    log_in(other, server, second)
    other.goto(f"{server.url}/console/#/sitting/{sitting_id}")
    expect(other.locator("[data-test=second]")).to_contain_text("有他人在场")
    shoot(other, "review-second")
    other.locator("[data-action=second-agree]").click()
    expect(other.locator("[data-test=version][data-status=final][data-outcome=violation]")).to_have_count(1)

    audit = ops.http.call("GET", f"/api/v1/ops/sittings/{sitting_id}/audit")
    viewers = {e["actor_id"] for e in audit if e["action"] == "recording.link"}
    assert {first.id, second.id} <= viewers
    assert [e["action"] for e in reversed(audit) if e["action"].startswith("review.")] == [
        "review.claim", "review.verdict", "review.incident", "review.decide", "review.second",
    ]  # fmt: skip

    # Ops read the same trail in the console: per sitting, and per staff member.
    chief = staff_account(server, "ops")
    desk_ops = desk()
    log_in(desk_ops, server, chief)
    desk_ops.goto(f"{server.url}/console/#/sitting/{sitting_id}")
    desk_ops.locator("[data-test=audit-link]").click()
    expect(desk_ops.locator("[data-test=audit-entry][data-action='review.second']")).to_have_count(1)
    assert first.username in desk_ops.locator("[data-test=audit-entry][data-action='review.decide']").inner_text()
    assert "北京时间" in desk_ops.locator("[data-test=audit-entry]").first.inner_text()
    shoot(desk_ops, "audit")
    desk_ops.locator("[data-nav=audit]").click()
    desk_ops.locator("[data-test=audit-actor]").select_option(second.id)
    expect(desk_ops.locator("[data-test=audit-entry][data-action='review.second']")).to_have_count(1)
    # The filtered list replaces the whole log (which has that one entry too): wait until no one else's is left.
    expect(desk_ops.locator("[data-test=audit-who]").filter(has_not_text=second.username)).to_have_count(0)
    whose = desk_ops.locator("[data-test=audit-who]").all_inner_texts()
    assert whose and all(second.username in w for w in whose), whose
