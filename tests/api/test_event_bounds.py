"""A phone's free-form event details are bounded (REST and WebSocket alike), a stored row no listing can show is
listed as invalid instead of breaking the listing, a closed sitting takes no more events, and a sitting's event
log is capped."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from app.db import transaction
from app.models import ProctorEvent, Sitting
from app.schemas import JSON_MAX_BYTES, JSON_MAX_DEPTH, JSON_MAX_ENTRIES, JSON_MAX_STRING_BYTES
from app.services.audit import SYSTEM
from app.services.sitting import facts, proctoring, sittings
from app.services.sitting.lifecycle import SittingState
from tests.api.test_realtime_bad_input import error_for, two_phones
from tests.support.api import Api
from tests.support.realtime import DEADLINE, OPENS, STARTS, Scene, barrier, events, scene

pytestmark = pytest.mark.anyio

EVENTS = "/api/v1/device/events"


def nested(levels: int) -> dict[str, Any]:
    """An object `levels` deep: {"a": {"a": ... {"a": 1}}}."""
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def deep_text(levels: int) -> str:
    """The attack as it came: 256 levels in 551 bytes of body (no Python value is built to send it)."""
    return '{"kind": "battery_low", "details": ' + '{"":' * levels + "1" + "}" * levels + "}"


REFUSED = [
    pytest.param(deep_text(256).encode(), id="256-deep-in-a-tiny-body"),
    pytest.param({"details": nested(JSON_MAX_DEPTH + 1)}, id="one-level-too-deep"),
    pytest.param({"details": {"a": [[[[[[[[1]]]]]]]]}}, id="arrays-count-as-levels"),
    pytest.param({"details": {f"k{i}": i for i in range(JSON_MAX_ENTRIES + 1)}}, id="too-many-keys"),
    pytest.param({"details": {"a": {f"k{i}": i for i in range(JSON_MAX_ENTRIES + 1)}}}, id="too-many-keys-inside"),
    pytest.param({"details": {"a": list(range(JSON_MAX_ENTRIES + 1))}}, id="too-many-items"),
    pytest.param({"details": {"log": "x" * (JSON_MAX_STRING_BYTES + 1)}}, id="long-string"),
    pytest.param({"details": {"log": "考" * (JSON_MAX_STRING_BYTES // 3 + 1)}}, id="long-string-in-utf8-bytes"),
    pytest.param({"details": {"k" * (JSON_MAX_STRING_BYTES + 1): 1}}, id="long-key"),
    pytest.param({"details": {f"k{i}": "x" * 1000 for i in range(9)}}, id="over-8-KB-in-all"),
    pytest.param(b'{"kind": "battery_low", "details": {"level": NaN}}', id="nan"),
    pytest.param(b'{"kind": "battery_low", "details": {"level": -Infinity}}', id="infinity"),
    pytest.param(b'{"kind": "battery_low", "details": {"\\ud800": 1}}', id="lone-surrogate-key"),
    pytest.param({"details": [1, 2]}, id="not-an-object"),
]

ACCEPTED = [
    pytest.param(nested(JSON_MAX_DEPTH), id="exactly-8-deep"),
    pytest.param({f"k{i}": i for i in range(JSON_MAX_ENTRIES)}, id="exactly-50-keys"),
    pytest.param({"log": "考" * (JSON_MAX_STRING_BYTES // 3)}, id="1-KB-string"),
    pytest.param({f"k{i}": "x" * 1000 for i in range(8)}, id="8-KB-in-all"),
    pytest.param({"level": 0.15, "charging": False, "note": None, "segments": [1, 2, 3]}, id="what-phones-send"),
]


async def device_events(api: Api, s: Scene) -> list[dict[str, Any]]:
    return [e for e in await events(api, s.ops, s.seat.sitting_id) if e["source"] == "device"]


@pytest.mark.parametrize("body", REFUSED)
async def test_details_beyond_the_bounds_are_refused_over_rest(api: Api, body: dict[str, Any] | bytes) -> None:
    s = await scene(api)
    if isinstance(body, bytes):
        response = await api.request("POST", EVENTS, s.seat.main, content=body, headers={"Content-Type": "application/json"})
    else:
        response = await api.request("POST", EVENTS, s.seat.main, json={"kind": "battery_low", **body})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert [tuple(d["loc"])[:2] for d in error["details"]] == [("body", "details")]
    # Nothing stored, and the log still reads.
    assert await device_events(api, s) == []


@pytest.mark.parametrize("details", ACCEPTED)
async def test_details_within_the_bounds_are_stored_as_sent(api: Api, details: dict[str, Any]) -> None:
    assert len(json.dumps(details, ensure_ascii=False, separators=(",", ":")).encode()) <= JSON_MAX_BYTES
    s = await scene(api)
    await api.ok("POST", EVENTS, s.seat.main, status=204, json={"kind": "battery_low", "details": details})
    (stored,) = await device_events(api, s)
    assert stored["details"] == details


async def test_the_same_bounds_hold_over_the_websocket(api: Api) -> None:
    s = await scene(api)
    async with two_phones(api, s) as (main, _aux):
        for message in (
            {"type": "event", "kind": "battery_low", "details": nested(256)},
            {"type": "recording.started", "details": nested(JSON_MAX_DEPTH + 1)},
            {"type": "recording.stopped", "details": {f"k{i}": i for i in range(JSON_MAX_ENTRIES + 1)}},
        ):
            error = await error_for(main, message)  # an error frame; the socket goes on (a ping is answered)
            assert error["code"] == "malformed_message"
            assert [tuple(d["loc"])[:1] for d in error["details"]] == [("details",)]
        await main.send_json({"type": "recording.started", "details": {"segment": 0, "mime": "video/webm"}})
        await barrier(main)
    assert [(e["kind"], e["details"]) for e in await device_events(api, s)] == [("recording_started", {"segment": 0, "mime": "video/webm"})]


async def test_a_stored_row_no_response_can_carry_is_listed_as_invalid(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """Rows written before the bounds existed (or around them): the listing shows them as invalid and logs them."""
    s = await scene(api)
    await api.ok("POST", EVENTS, s.seat.main, status=204, json={"kind": "battery_low", "details": {"level": 0.1}})
    sitting_id = uuid.UUID(s.seat.sitting_id)
    async with transaction(api.app.state.sessionmaker) as db:
        deep = proctoring.record(db, sitting_id=sitting_id, device_id=None, source="device", kind="camera_error", now=api.clock.now(), details=nested(300))
        listed = proctoring.record(db, sitting_id=sitting_id, device_id=None, source="device", kind="camera_error", now=api.clock.now())
        listed.details = [1, 2, 3]  # type: ignore[assignment]  # JSON, but not an object
        await db.flush()
        bad_ids = {str(deep.id), str(listed.id)}
    with caplog.at_level(logging.WARNING):
        rows = await device_events(api, s)
    assert [(r["kind"], r["details"]) for r in rows] == [
        ("battery_low", {"level": 0.1}),
        ("camera_error", {"invalid": True}),
        ("camera_error", {"invalid": True}),
    ]
    logged = {r.fields["event_id"] for r in caplog.records if r.getMessage() == "proctoring.event.unreadable"}  # type: ignore[attr-defined]
    assert logged == bad_ids


async def _ready(api: Api, sitting_id: str) -> None:
    api.clock.set(OPENS + timedelta(minutes=1))
    await _hook(api, sitting_id, lambda db, view, now: facts.mark_ready(db, view=view, now=now))


async def _hook(api: Api, sitting_id: str, hook: Callable[..., object]) -> None:
    async with transaction(api.app.state.sessionmaker, api.app.state.hub) as db:
        now = api.clock.now()
        hook(db, await sittings.load(db, sitting_id=uuid.UUID(sitting_id), now=now), now)


async def _absent(api: Api, s: Scene) -> None:
    api.clock.set(STARTS + timedelta(minutes=1))  # never got ready


async def _incomplete(api: Api, s: Scene) -> None:
    await _ready(api, s.seat.sitting_id)
    api.clock.set(DEADLINE)  # never uploaded


async def _uploaded(api: Api, s: Scene) -> None:
    await _ready(api, s.seat.sitting_id)
    api.clock.set(STARTS + timedelta(minutes=1))
    await _hook(api, s.seat.sitting_id, lambda db, view, now: facts.mark_uploaded(db, view=view, now=now))


async def _terminated(api: Api, s: Scene) -> None:
    await _ready(api, s.seat.sitting_id)
    api.clock.set(STARTS + timedelta(minutes=1))
    await _hook(api, s.seat.sitting_id, lambda db, view, now: facts.terminate(db, view=view, reason="ops", now=now, actor=SYSTEM))


@pytest.mark.parametrize(
    ("close", "state"),
    [(_absent, "absent"), (_incomplete, "incomplete"), (_uploaded, "uploaded"), (_terminated, "terminated")],
)
async def test_a_closed_sitting_takes_no_more_events(api: Api, close: Callable[..., Any], state: str) -> None:
    s = await scene(api)
    await close(api, s)
    async with api.app.state.sessionmaker() as db:
        assert (await sittings.load(db, sitting_id=uuid.UUID(s.seat.sitting_id), now=api.clock.now())).state is SittingState(state)
    before = await device_events(api, s)
    response = await api.request("POST", EVENTS, s.seat.aux, json={"kind": "app_hidden"})
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "sitting_closed"
    assert await device_events(api, s) == before


async def test_a_closed_sitting_refuses_events_over_an_open_socket(api: Api) -> None:
    s = await scene(api)
    async with two_phones(api, s) as (main, _aux):
        await _uploaded(api, s)
        error = await error_for(main, {"type": "recording.stopped", "details": {"reason": "late"}})
        assert error["code"] == "sitting_closed"
    assert await device_events(api, s) == []


async def _counters(api: Api, sitting_id: str) -> tuple[int, int]:
    async with api.app.state.sessionmaker() as db:
        row = (await db.execute(select(Sitting.device_event_count, Sitting.device_event_bytes).where(Sitting.id == uuid.UUID(sitting_id)))).one()
    return row.device_event_count, row.device_event_bytes


async def _set_counters(api: Api, sitting_id: str, *, count: int, size: int) -> None:
    """Stand in for thousands of earlier events (posting them one by one would only make the test slow)."""
    async with transaction(api.app.state.sessionmaker) as db:
        await db.execute(update(Sitting).where(Sitting.id == uuid.UUID(sitting_id)).values(device_event_count=count, device_event_bytes=size))


async def test_a_sittings_event_log_is_capped_by_count_and_by_bytes(api: Api) -> None:
    s = await scene(api)
    await api.ok("POST", EVENTS, s.seat.main, status=204, json={"kind": "battery_low", "details": {"level": 0.1}})
    await api.ok("POST", EVENTS, s.seat.aux, status=204, json={"kind": "charger_plugged"})
    # Both phones count toward their sitting's log; server events (device_online, ...) do not.
    assert await _counters(api, s.seat.sitting_id) == (2, len('{"level":0.1}') + len("{}"))

    await _set_counters(api, s.seat.sitting_id, count=proctoring.MAX_DEVICE_EVENTS - 1, size=0)
    await api.ok("POST", EVENTS, s.seat.main, status=204, json={"kind": "app_hidden"})  # the last place
    full = await api.request("POST", EVENTS, s.seat.aux, json={"kind": "app_visible"})
    assert full.status_code == 409 and full.json()["error"]["code"] == "event_log_full"

    await _set_counters(api, s.seat.sitting_id, count=0, size=proctoring.MAX_DEVICE_EVENT_BYTES - 20)
    big = await api.request("POST", EVENTS, s.seat.main, json={"kind": "battery_low", "details": {"log": "x" * 20}})
    assert big.status_code == 409 and big.json()["error"]["code"] == "event_log_full"
    await api.ok("POST", EVENTS, s.seat.main, status=204, json={"kind": "battery_low", "details": {"a": 1}})  # 7 bytes fit

    kinds = [e["kind"] for e in await device_events(api, s)]
    assert kinds == ["battery_low", "charger_plugged", "app_hidden", "battery_low"]
    async with api.app.state.sessionmaker() as db:
        stored = (await db.scalars(select(ProctorEvent.kind).where(ProctorEvent.sitting_id == uuid.UUID(s.seat.sitting_id), ProctorEvent.source == "device"))).all()
    assert sorted(stored) == sorted(kinds)


async def test_a_full_log_is_told_over_the_socket_too(api: Api) -> None:
    s = await scene(api)
    await _set_counters(api, s.seat.sitting_id, count=proctoring.MAX_DEVICE_EVENTS, size=0)
    async with two_phones(api, s) as (main, _aux):
        assert (await error_for(main, {"type": "event", "kind": "battery_low"}))["code"] == "event_log_full"
    assert await device_events(api, s) == []
