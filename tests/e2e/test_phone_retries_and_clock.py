"""The phones' shared modules in Chromium, against the real server: the uploader's retries are drawn with full jitter
(phones that failed together do not retry together) and its questions whether the recording is verified slow down, the clock sync measures round trips on the monotonic clock
(the phone's clock being set mid-request does not skew the estimate), and an API error carries the request id that
support looks up (shown on the screen for a server fault)."""

from __future__ import annotations

from typing import Any

from tests.e2e.support import E2EServer


def open_app(phone: Any, server: E2EServer) -> Any:
    page = phone()
    page.goto(f"{server.url}/main/")
    page.wait_for_selector("input[name=identifier]")
    return page


def test_upload_retries_are_spread_over_the_whole_back_off_step(server: E2EServer, phone) -> None:
    page = open_app(phone, server)
    drawn = page.evaluate(
        """async () => {
          const { retryDelay } = await import("/common/uploader.js");
          const draws = (attempt) => Array.from({ length: 400 }, () => retryDelay(attempt));
          return { first: draws(1), third: draws(3), late: draws(40), top: retryDelay(3, () => 1), bottom: retryDelay(3, () => 0) };
        }"""
    )
    assert (drawn["top"], drawn["bottom"]) == (2000, 0)
    for name, step in (("first", 500), ("third", 2000), ("late", 5000)):
        values = drawn[name]
        assert 0 <= min(values) and max(values) <= step, name
        # Spread over the step, not bunched around it: both halves drawn often, and many distinct delays.
        low = sum(v < step / 2 for v in values)
        assert 120 < low < 280 and len(set(values)) > 100, (name, low)


def test_asking_whether_the_recording_is_verified_slows_down_to_every_five_seconds(server: E2EServer, phone) -> None:
    page = open_app(phone, server)
    drawn = page.evaluate(
        """async () => {
          const { verifyDelay } = await import("/common/uploader.js");
          const bounds = (asked) => [verifyDelay(asked, () => 0), verifyDelay(asked, () => 1)];
          return { first: bounds(1), second: bounds(2), late: bounds(30), spread: Array.from({ length: 200 }, () => verifyDelay(30)) };
        }"""
    )
    # A second at first, half again each time, at most five; each one drawn from its upper half (phones spread).
    assert drawn["first"] == [500, 1000] and drawn["second"] == [750, 1500] and drawn["late"] == [2500, 5000]
    assert min(drawn["spread"]) >= 2500 and max(drawn["spread"]) <= 5000 and len(set(drawn["spread"])) > 50


def test_a_clock_set_during_a_ping_does_not_move_the_servers_time(server: E2EServer, phone) -> None:
    page = open_app(phone, server)
    found = page.evaluate(
        """async () => {
          const clock = await import("/common/clock.js");
          await clock.syncHttp(3);
          const before = clock.clockOffset();
          const ping = clock.pingMessage();
          // The server answers as if its clock equalled the phone's; meanwhile the phone's clock is set an hour ahead.
          const real = Date.now;
          Date.now = () => real() + 3600000;
          try {
            clock.onPong({ t0: ping.t0, t1: ping.t0 + 1, t2: ping.t0 + 1 });
          } finally {
            Date.now = real;
          }
          return { before, after: clock.clockOffset() };
        }"""
    )
    # The pong's sample says "no offset" within its few ms of round trip; the Date-based one said minus half an hour.
    assert abs(found["after"]) < 1000, found


def test_an_error_names_its_request_id_and_a_server_fault_shows_it(server: E2EServer, phone) -> None:
    page = open_app(phone, server)
    found = page.evaluate(
        """async () => {
          const { toError, ApiError } = await import("/common/api.js");
          const { errorText } = await import("/common/ui.js");
          const response = await fetch("/api/v1/nope");
          const error = await toError(response);
          const fault = new ApiError(503, "face_engine_busy", "人脸比对繁忙", "busy", null, response.headers);
          return { header: response.headers.get("x-request-id"), id: error.requestId, refused: errorText(error), fault: errorText(fault) };
        }"""
    )
    assert found["id"] == found["header"] and len(found["id"]) == 16, found
    assert found["id"] not in found["refused"]  # the candidate's own to fix: the message alone
    assert found["fault"] == f"人脸比对繁忙（请求编号 {found['id']}，联系技术支持时请提供）", found
