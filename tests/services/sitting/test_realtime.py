"""sitting/realtime: what a phone's socket does to its sitting — channels, the connect sequence (a final sitting is
refused), heartbeats (written at most every half interval unless watched telemetry changed; back online after a
sweep), events (unknown kinds rejected), and the answer-start push as each sitting may see it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest

from app import errors
from app.models import Device, DeviceRole
from app.services.sitting import presence, realtime
from app.services.sitting.channels import device_channel, session_channel, sitting_channel
from app.services.sitting.lifecycle import FINAL_STATES, SittingState
from tests.conftest import T0
from tests.services.conftest import ENDS, QUESTION, READY_AT, STARTS, Env, M, S, Scene

pytestmark = pytest.mark.anyio

INTERVAL = timedelta(seconds=10)
KNOWN = {"battery": 0.8, "charging": True, "network": "wifi", "visibility": "visible"}
DUE = [
    # (label, telemetry, last write, now, due)
    ("first heartbeat", KNOWN, None, T0, True),
    ("unchanged, within half the interval", KNOWN, T0, T0 + 4 * S, False),
    ("unchanged, at half the interval", KNOWN, T0, T0 + 5 * S, True),
    ("battery only changed", KNOWN | {"battery": 0.5}, T0, T0 + S, False),
    ("charging changed", KNOWN | {"charging": False}, T0, T0 + S, True),
    ("network changed", KNOWN | {"network": "4g"}, T0, T0 + S, True),
    ("visibility changed", KNOWN | {"visibility": "hidden"}, T0, T0 + S, True),
    ("watched keys not sent", {"battery": 0.8}, T0, T0 + S, False),
    ("a watched key sent unchanged", {"network": "wifi"}, T0, T0 + S, False),
]


@pytest.mark.parametrize(("label", "telemetry", "last", "now", "due"), DUE, ids=[d[0] for d in DUE])
def test_heartbeat_due(label: str, telemetry: dict[str, Any], last: datetime | None, now: datetime, due: bool) -> None:
    assert realtime.heartbeat_due(KNOWN, telemetry, last_write=last, now=now, interval=INTERVAL) is due


def test_heartbeat_due_when_a_watched_key_first_appears() -> None:
    assert realtime.heartbeat_due({}, {"charging": True}, last_write=T0, now=T0 + S, interval=INTERVAL) is True


MINE = uuid.uuid4(), uuid.uuid4()
OTHER = uuid.uuid4()
CHECKS = [
    ("names nothing", None, None, False),
    ("its own device", MINE[0], None, False),
    ("its own device and candidate", MINE[0], MINE[1], False),
    ("its own candidate only", None, MINE[1], False),
    ("another device", OTHER, None, True),
    ("another candidate", MINE[0], OTHER, True),
    ("another candidate only", None, OTHER, True),
]


@pytest.mark.parametrize(("label", "device_id", "candidate_id", "refused"), CHECKS, ids=[c[0] for c in CHECKS])
def test_check_mine(label: str, device_id: uuid.UUID | None, candidate_id: uuid.UUID | None, refused: bool) -> None:
    device = Device(id=MINE[0], candidate_id=MINE[1], role=DeviceRole.main)
    if refused:
        with pytest.raises(errors.NotYourDevice):
            realtime.check_mine(device, device_id=device_id, candidate_id=candidate_id)
    else:
        realtime.check_mine(device, device_id=device_id, candidate_id=candidate_id)


PHASE = {"type": "phase", "phase": "answer_start", "session_id": "s", "at": STARTS.isoformat(), "questions": [{"id": "q", "text": QUESTION}]}


async def test_phase_for_keeps_the_questions_for_a_ready_sitting(scene: Scene, env: Env) -> None:
    await env.set_facts(scene.sitting_id, ready_at=READY_AT)
    view = await scene.view(T0)  # a connection's view, loaded long before
    assert realtime.phase_for(view, PHASE, at=STARTS) is PHASE
    late = await scene.view(ENDS + M)  # a late push: judged at the boundary
    assert realtime.phase_for(late, PHASE, at=STARTS) is PHASE


async def test_phase_for_strips_the_questions_for_an_absent_sitting(scene: Scene) -> None:
    view = await scene.view(T0)
    stripped = realtime.phase_for(view, PHASE, at=STARTS)
    assert stripped == {k: v for k, v in PHASE.items() if k != "questions"} | {"state": "absent"}
    assert "questions" in PHASE  # the shared message is not changed


async def test_phase_for_passes_messages_without_questions(scene: Scene) -> None:
    view = await scene.view(T0)
    message = {"type": "phase", "phase": "answer_end", "session_id": "s", "at": ENDS.isoformat()}
    assert realtime.phase_for(view, message, at=ENDS) is message


async def test_channels_of_a_phone(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    async with env.tx() as db:
        channels = await realtime.channels_of(db, device=main)
    assert channels == (sitting_channel(scene.sitting_id), session_channel(scene.session.id), device_channel(main.id))


async def connect(env: Env, device_id: uuid.UUID) -> realtime.Connected:
    async with env.tx() as db:
        return await realtime.connect(db, device=await db.get_one(Device, device_id), now=env.now(), timeout=env.timeout)


@pytest.mark.parametrize("state", sorted(FINAL_STATES), ids=lambda s: s.value)
async def test_connect_refuses_a_final_sitting(scene: Scene, env: Env, state: SittingState) -> None:
    main, _ = await scene.phones()
    await scene.into(state)
    connected = await connect(env, main.id)
    assert (connected.accepted, connected.view.state) == (False, state)
    assert (await env.row(Device, main.id)).connected_at is None


async def test_connect_marks_the_phone_online_and_reports_what_it_decided(scene: Scene, env: Env) -> None:
    main, aux = await scene.phones()
    await scene.into(SittingState.waiting)
    await env.set_facts(scene.sitting_id, face_passed_at=env.now())
    first = await connect(env, main.id)
    assert (first.accepted, first.view.state) == (True, SittingState.waiting)
    assert (await env.row(Device, main.id)).connected_at == env.now()
    async with env.tx() as db:
        assert await realtime.peer_online(db, device=await db.get_one(Device, aux.id), now=env.now(), timeout=env.timeout) is True
        assert await realtime.peer_online(db, device=await db.get_one(Device, main.id), now=env.now(), timeout=env.timeout) is False
    second = await connect(env, aux.id)  # both phones online, face passed: ready, in the connect's own view
    assert (second.accepted, second.view.state) == (True, SittingState.ready)


async def beat(env: Env, device_id: uuid.UUID, view: Any, known: dict[str, Any], **telemetry: Any) -> realtime.Beat:
    async with env.tx() as db:
        return await realtime.heartbeat(db, device_id=device_id, known=known, telemetry=telemetry, now=env.now(), timeout=env.timeout, view=view)


@pytest.mark.parametrize("with_view", [True, False], ids=["the socket's view (one statement)", "no view (the whole path)"])
async def test_heartbeat_merges_telemetry_and_brings_a_swept_phone_back(scene: Scene, env: Env, with_view: bool) -> None:
    main, _ = await scene.phones()
    connected = await connect(env, main.id)
    view = connected.view if with_view else None
    env.clock.advance(seconds=5)
    first = await beat(env, main.id, view, {}, battery=0.9, network="wifi")
    assert first == realtime.Beat({"battery": 0.9, "network": "wifi"}, reconnected=False)
    row = await env.row(Device, main.id)
    assert (row.telemetry, row.last_seen_at, row.disconnected_at) == ({"battery": 0.9, "network": "wifi"}, env.now(), None)
    env.clock.advance(seconds=60)
    async with env.tx() as db:
        assert await presence.sweep(db, now=env.now(), timeout=env.timeout) == 1
    env.clock.advance(seconds=1)
    # Offline in the row: the one statement writes nothing and the whole path brings the phone back.
    assert await beat(env, main.id, view, first.telemetry, battery=0.7) == realtime.Beat({"battery": 0.7, "network": "wifi"}, reconnected=True)
    row = await env.row(Device, main.id)
    assert (row.disconnected_at, row.last_seen_at) == (None, env.now())
    assert [e.kind for e in await env.events(scene.sitting_id)][-2:] == ["device_offline", "device_online"]


async def test_heartbeat_of_a_replaced_phone_takes_the_whole_path(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    view = (await connect(env, main.id)).view
    async with env.tx() as db:
        (await db.get_one(Device, main.id)).superseded_at = env.now()
    env.clock.advance(seconds=5)
    assert await beat(env, main.id, view, {}, battery=0.5) == realtime.Beat({"battery": 0.5}, reconnected=False)
    row = await env.row(Device, main.id)
    assert (row.superseded_at is not None, row.disconnected_at) == (True, None)


async def test_heartbeat_in_the_waiting_window_makes_a_sitting_ready(scene: Scene, env: Env) -> None:
    """While waiting, every beat also judges readiness: face passed and both phones online (say a phone counted as
    stale a moment, not yet swept)."""
    main, aux = await scene.phones()
    await scene.into(SittingState.waiting)
    view = (await connect(env, main.id)).view
    await connect(env, aux.id)
    env.clock.advance(seconds=40)  # both stale, not swept
    await beat(env, aux.id, None, {})
    await env.set_facts(scene.sitting_id, face_passed_at=env.now())
    assert view.at(env.now()).state is SittingState.waiting
    await beat(env, main.id, view, {})
    assert (await scene.view()).state is SittingState.ready


async def test_device_event_rejects_unknown_kinds(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    async with env.tx() as db:
        with pytest.raises(errors.UnknownEventKind) as refused:
            await realtime.device_event(db, device_id=main.id, kind="app_exploded", client_at=None, details={}, now=env.now())
    assert refused.value.details == {"kind": "app_exploded"}
    assert await env.events(scene.sitting_id) == []


async def test_device_event_applies_the_policy_at_once(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    await env.set_facts(scene.sitting_id, ready_at=READY_AT)
    env.clock.set(STARTS + M)
    async with env.tx() as db:
        await realtime.device_event(db, device_id=main.id, kind="app_hidden", client_at=None, details={}, now=env.now())
    env.clock.set(STARTS + 5 * M)
    async with env.tx() as db:  # back, but after 4 minutes away: broken as of 09:03
        await realtime.device_event(db, device_id=main.id, kind="app_visible", client_at=None, details={}, now=env.now())
    view = await scene.view()
    assert (view.state, view.sitting.terminated_at) == (SittingState.terminated, STARTS + 3 * M)


async def test_disconnect_of_the_socket_that_started_then(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    await connect(env, main.id)
    started = env.now()
    env.clock.advance(seconds=3)
    async with env.tx() as db:
        await realtime.disconnect(db, device_id=uuid.uuid4(), now=env.now(), timeout=env.timeout, reason="socket_closed", connected_at=started)  # gone
        await realtime.disconnect(db, device_id=main.id, now=env.now(), timeout=env.timeout, reason="socket_closed", connected_at=started - S)
    assert (await env.row(Device, main.id)).disconnected_at is None  # not the socket that is open now
    async with env.tx() as db:
        await realtime.disconnect(db, device_id=main.id, now=env.now(), timeout=env.timeout, reason="socket_closed", connected_at=started)
    assert (await env.row(Device, main.id)).disconnected_at == env.now()
