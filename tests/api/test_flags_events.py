"""Event flags, derived from what is stored about a sitting — its phones' interruptions, a phone replaced while
answering, recordings shorter than the answer window without a manual stop — when a recording is verified, when
the upload deadline passes (the scheduler's job), and on a reanalysis; read through the ops API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.flags import V1, answering, of_source, recorded, upload
from tests.support.media import webm
from tests.support.realtime import DEADLINE, ENDS, STARTS
from tests.support.ws import phone, ws_client

pytestmark = pytest.mark.anyio

S = timedelta(seconds=1)
POLICY = {"interruption_limit": 10, "interruption_grace_seconds": 600}  # the sitting goes on whatever happens
VIDEO = webm(seconds=6.0)


def summary(body: dict[str, Any]) -> list[tuple[str, str, float, float]]:
    return [(f["kind"], f["role"], round(f["start_s"]), round(f["end_s"])) for f in of_source(body, "event")]


async def event(api: Api, token: str, kind: str, **details: Any) -> None:
    await api.ok("POST", f"{V1}/device/events", token, status=204, json={"kind": kind, "details": details})


async def test_interruptions_of_either_phone_become_flags_with_their_time_ranges(api: Api) -> None:
    async with answering(api, **POLICY) as a:
        seat = a.s.seat
        await a.at(STARTS + 60 * S)
        await event(api, seat.main, "app_hidden")
        await a.at(STARTS + 90 * S)
        await event(api, seat.main, "app_visible")
        await event(api, seat.aux, "call_started")
        await a.at(STARTS + 100 * S)
        await event(api, seat.aux, "call_ended")
        await event(api, seat.main, "screen_locked")  # still locked when the answering ends
        await recorded(a, VIDEO, VIDEO)
        body = await a.flags()
    # On one timeline, by server time: the recordings (6 s) fell short from 09:00:06 on.
    assert summary(body) == [
        ("short_recording", "aux", 6.0, 600.0),
        ("short_recording", "main", 6.0, 600.0),
        ("app_hidden", "main", 60.0, 90.0),
        ("call", "aux", 90.0, 100.0),
        ("screen_locked", "main", 100.0, 600.0),
    ]
    locked = next(f for f in body["flags"] if f["kind"] == "screen_locked")
    assert locked["detail"] == {"reason": "lock", "still_open": True, "seconds": 500.0}
    assert locked["started_at"] == "2026-06-01T09:11:40+08:00" and locked["ended_at"] == "2026-06-01T09:20:00+08:00"
    assert {r["kind"] for r in body["risk"]["reasons"]} >= {"app_hidden", "call", "screen_locked", "short_recording"}


async def test_a_phone_offline_while_answering_is_offline_or_aux_offline(api: Api) -> None:
    async with answering(api, **POLICY) as a:
        await a.at(STARTS + 30 * S)
        # Only the main phone keeps heartbeating: the sweep finds the aux phone silent past the timeout.
        api.clock.set(STARTS + 120 * S)
        from tests.support.realtime import alive

        await alive(a.main)
        await api.app.state.scheduler.tick()
        await a.at(STARTS + 200 * S)  # both heartbeat again: the aux phone is back
        await recorded(a, VIDEO, VIDEO)
        flags = {f["kind"]: f for f in of_source(await a.flags(), "event")}
    offline = flags["aux_offline"]
    assert offline["role"] == "aux" and offline["detail"]["reason"] == "offline" and offline["detail"]["still_open"] is False
    assert 30.0 < offline["start_s"] <= 120.0 and offline["end_s"] == 200.0


async def test_a_phone_replaced_while_answering_is_flagged(api: Api) -> None:
    async with answering(api, **POLICY) as a:
        await a.at(STARTS + 45 * S)
        new_main = await api.device(a.s.seat.candidate, a.sitting_id, "main")  # the old phone's socket is closed
        api.clock.set(ENDS + 5 * S)
        await upload(api, new_main, VIDEO)
        replaced = [f for f in of_source(await a.flags(), "event") if f["kind"] == "device_replaced"]
    assert [(f["role"], f["start_s"], f["end_s"]) for f in replaced] == [("main", 45.0, 45.0)]


async def test_a_manual_stop_is_no_short_recording(api: Api) -> None:
    async with answering(api, **POLICY) as a:
        await a.at(STARTS + 10 * S)
        await api.ok("POST", f"{V1}/device/stop", a.s.seat.main)
        await event(api, a.s.seat.main, "recording_stopped", reason="manual_stop")
        await upload(api, a.s.seat.main, VIDEO)
        await upload(api, a.s.seat.aux, VIDEO)
        assert summary(await a.flags()) == []


async def test_the_upload_deadline_derives_the_flags_of_a_sitting_without_recordings_once(api: Api) -> None:
    async with answering(api, **POLICY) as a:
        await a.at(STARTS + 20 * S)
        await event(api, a.s.seat.main, "app_hidden")
        await a.at(STARTS + 50 * S)
        await event(api, a.s.seat.main, "app_visible")
        await a.at(ENDS + 60 * S)
    assert of_source(await a.flags(), "event") == []  # nothing verified yet: nothing derived
    api.clock.set(DEADLINE)
    await api.app.state.scheduler.tick()  # announces the upload deadline, then the flags job derives
    first = await a.flags()
    assert first["state"] == "incomplete"
    assert summary(first) == [("app_hidden", "main", 20.0, 50.0)]
    api.clock.set(DEADLINE + 5 * 60 * S)
    await api.app.state.scheduler.tick()
    assert of_source(await a.flags(), "event") == of_source(first, "event")  # once; and the same rows


async def test_reanalyze_derives_the_event_flags_again(api: Api) -> None:
    async with answering(api, **POLICY) as a:
        await a.at(STARTS + 20 * S)
        await event(api, a.s.seat.main, "app_hidden")
        await a.at(STARTS + 50 * S)
        await event(api, a.s.seat.main, "app_visible")
        await a.at(ENDS + 60 * S)
        assert of_source(await a.flags(), "event") == []
        queued = await api.ok("POST", f"{V1}/ops/sittings/{a.sitting_id}/flags/reanalyze", a.s.ops, status=202)
        assert queued["analysis"] == []  # no recording to analyse yet
        assert summary(await a.flags()) == [("app_hidden", "main", 20.0, 50.0)]
