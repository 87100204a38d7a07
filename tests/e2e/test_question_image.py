"""A question with an image, on the main phone: nothing of it before the answer start (server time), the picture
with the text from the start, enlarged by a tap and closed by another; and when the image does not load, the text
stays, the phone tries again by itself, then offers a tap that brings it."""

from __future__ import annotations

from typing import Any

from tests.e2e import flows
from tests.e2e.support import E2EServer, Ops, question_picture

IMAGE_ROUTE = "**/api/v1/device/questions/*/image"


def natural_width(page: Any) -> int:
    return page.eval_on_selector("[data-test=question-image]", "img => img.complete ? img.naturalWidth : 0")


def test_the_question_image_shows_from_answer_start_enlarges_and_comes_back_after_a_failure(server: E2EServer, ops: Ops, phone) -> None:
    picture = question_picture(width=800, height=500)
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=90, question_image=picture)
    # No service worker on the main phone: Playwright's routes see only what the page itself fetches.
    main, aux = phone(service_workers="block"), phone()
    fetched: list[str] = []
    main.on("request", lambda request: fetched.append(request.url) if "/image" in request.url else None)
    flows.to_ready(main, aux, server, candidate, session["id"])
    assert main.locator("[data-test=question-image]").count() == 0
    assert fetched == []

    flows.to_recording(main, aux, server, session)
    main.wait_for_selector("[data-test=question]", timeout=10000)
    main.wait_for_selector("[data-test=question-image]", timeout=10000)
    main.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=main.locator("[data-test=question-image]").element_handle())
    assert (natural_width(main), main.eval_on_selector("[data-test=question-image]", "img => img.naturalHeight")) == (800, 500)
    assert main.get_attribute("[data-test=question-image]", "alt") == "试题图片"
    # Drawn on the screen, not only loaded: as wide as the card's text, at least half the phone's width.
    box = main.locator("[data-test=question-image]").bounding_box()
    assert box is not None and box["width"] >= 0.5 * main.viewport_size["width"], box

    main.click("[data-test=question-image]")
    zoom = main.wait_for_selector("[data-test=question-image-zoom]")
    assert "点击任意处关闭" in zoom.inner_text()
    zoomed = main.locator("[data-test=question-image-zoom] img").bounding_box()
    assert zoomed is not None and zoomed["width"] >= 0.95 * main.viewport_size["width"], zoomed
    main.click("[data-test=question-image-zoom]")
    main.wait_for_selector("[data-test=question-image-zoom]", state="detached")

    # The phone starts again mid-answer with the image unreachable: the text is there at once, the phone tries
    # 4 times (after 1, 2, 4 s), then shows the tap; the recording goes on meanwhile.
    refused: list[str] = []

    def refuse(route: Any) -> None:
        refused.append(route.request.url)
        route.abort()

    main.route(IMAGE_ROUTE, refuse)
    main.reload()
    main.wait_for_selector("[data-test=question]", timeout=15000)
    main.wait_for_selector("[data-test=question-image-loading]", timeout=5000)
    retry = main.wait_for_selector("[data-action=image-retry]", timeout=15000)
    assert "试题图片未能加载，点此重试" in retry.inner_text()
    assert len(refused) == 4, refused
    assert main.locator("[data-test=recording][data-recording=true]").count() == 1

    main.unroute(IMAGE_ROUTE)
    retry.click()
    main.wait_for_selector("[data-test=question-image]", timeout=10000)
    main.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=main.locator("[data-test=question-image]").element_handle())
    assert natural_width(main) == 800
