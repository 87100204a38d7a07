"""sitting/presence: a phone is online from connect to disconnect or heartbeat timeout; each transition is a
compare-and-set on the row (recorded and announced once); readiness is the face gate plus both phones online inside
the waiting window; the sweep takes silent phones offline as of their last heartbeat + timeout."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from app.models import Device, DeviceRole, Interruption
from app.services.sitting import presence
from app.services.sitting.channels import sitting_channel
from app.services.sitting.lifecycle import SittingState
from tests.conftest import T0
from tests.services.conftest import OPENS, READY_AT, STARTS, Env, M, S, Scene

pytestmark = pytest.mark.anyio

TIMEOUT = timedelta(seconds=30)


def phone(**fields: object) -> Device:
    seen = {"connected_at": T0, "disconnected_at": None, "last_seen_at": T0, "superseded_at": None} | fields
    return Device(role=DeviceRole.main, **seen)


ONLINE = [
    ("connected and beating", phone(), T0 + 10 * S, True),
    ("silent for exactly the timeout", phone(), T0 + TIMEOUT, True),
    ("silent a second longer", phone(), T0 + TIMEOUT + S, False),
    ("never connected", phone(connected_at=None, last_seen_at=None), T0, False),
    ("disconnected", phone(disconnected_at=T0 + S), T0 + 2 * S, False),
    ("superseded", phone(superseded_at=T0 + S), T0 + 2 * S, False),
]


@pytest.mark.parametrize(("label", "device", "now", "expected"), ONLINE, ids=[o[0] for o in ONLINE])
def test_is_online(label: str, device: Device, now: datetime, expected: bool) -> None:
    assert presence.is_online(device, now=now, timeout=TIMEOUT) is expected


async def connect(env: Env, device_id: uuid.UUID) -> None:
    async with env.tx() as db:
        await presence.connect(db, device=await db.get_one(Device, device_id), now=env.now(), timeout=env.timeout)


async def disconnect(env: Env, device_id: uuid.UUID, **kwargs: object) -> None:
    async with env.tx() as db:
        await presence.disconnect(db, device=await db.get_one(Device, device_id), now=env.now(), timeout=env.timeout, reason="socket_closed", **kwargs)  # type: ignore[arg-type]


async def interruptions(env: Env, device_id: uuid.UUID) -> list[tuple[str, datetime, datetime | None]]:
    async with env.tx() as db:
        rows = await db.scalars(select(Interruption).where(Interruption.device_id == device_id).order_by(Interruption.started_at))
        return [(r.reason, r.started_at, r.ended_at) for r in rows]


async def kinds(env: Env, scene: Scene) -> list[str]:
    return [e.kind for e in await env.events(scene.sitting_id) if e.kind.startswith("device_o")]


async def test_connect_records_coming_online_once_and_announces_every_time(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    channel = sitting_channel(scene.sitting_id)
    async with env.hearing(channel) as heard:
        await connect(env, main.id)
        env.clock.advance(seconds=5)
        await connect(env, main.id)  # a second socket of the same online phone
        assert heard.on(channel) == [{"type": "peer.online", "device_id": str(main.id), "role": "main"}] * 2
    row = await env.row(Device, main.id)
    assert (row.connected_at, row.disconnected_at, row.last_seen_at) == (env.now(), None, env.now())
    assert await kinds(env, scene) == ["device_online"]


async def test_disconnect_opens_an_offline_interruption_and_reconnect_closes_it(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    channel = sitting_channel(scene.sitting_id)
    await connect(env, main.id)
    env.clock.advance(seconds=5)
    left = env.now()
    async with env.hearing(channel) as heard:
        await disconnect(env, main.id)
        await disconnect(env, main.id)  # already offline: nothing more
        assert heard.on(channel) == [{"type": "peer.offline", "device_id": str(main.id), "role": "main"}]
    assert (await env.row(Device, main.id)).disconnected_at == left
    assert await interruptions(env, main.id) == [("offline", left, None)]
    env.clock.advance(seconds=20)
    await connect(env, main.id)
    assert await interruptions(env, main.id) == [("offline", left, env.now())]
    assert await kinds(env, scene) == ["device_online", "device_offline", "device_online"]
    (offline,) = [e for e in await env.events(scene.sitting_id) if e.kind == "device_offline"]
    assert offline.details == {"role": "main", "reason": "socket_closed"}


async def test_an_old_socket_ending_after_a_reconnect_changes_nothing(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    await connect(env, main.id)
    first_socket = env.now()
    env.clock.advance(seconds=TIMEOUT.seconds + 5)  # the network switched: the phone came back on a new socket
    await connect(env, main.id)
    assert await kinds(env, scene) == ["device_online", "device_online"]  # (it had gone stale in between)
    env.clock.advance(seconds=1)
    await disconnect(env, main.id, connected_at=first_socket)
    row = await env.row(Device, main.id)
    assert row.disconnected_at is None
    assert await interruptions(env, main.id) == []


async def test_a_superseded_phone_going_away_is_no_interruption(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    await connect(env, main.id)
    await env.device(scene.candidate, scene.sitting_id, DeviceRole.main)  # replaced by a new phone
    env.clock.advance(seconds=1)
    await disconnect(env, main.id)
    assert (await env.row(Device, main.id)).disconnected_at == env.now()
    assert await interruptions(env, main.id) == []
    assert await kinds(env, scene) == ["device_online"]


async def test_disconnect_for_the_sweep_keeps_a_phone_that_beat_meanwhile(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    await connect(env, main.id)
    env.clock.advance(seconds=40)
    async with env.tx() as db:
        device = await db.get_one(Device, main.id)
        await presence.heartbeat(db, device=device, telemetry={"battery": 0.5}, now=env.now())
    await disconnect(env, main.id, seen_before=env.now() - TIMEOUT)
    row = await env.row(Device, main.id)
    assert (row.disconnected_at, row.last_seen_at, row.telemetry) == (None, env.now(), {"battery": 0.5})


async def test_sweep_takes_silent_phones_offline_as_of_last_heartbeat_plus_timeout(scene: Scene, env: Env) -> None:
    main, aux = await scene.phones()
    await connect(env, main.id)
    await connect(env, aux.id)
    last = env.now()
    env.clock.advance(seconds=20)
    await connect(env, aux.id)  # the aux phone keeps beating
    for at, expected in ((last + env.timeout, 0), (last + env.timeout + S, 1), (last + env.timeout + 2 * S, 0)):
        async with env.tx() as db:
            assert await presence.sweep(db, now=at, timeout=env.timeout) == expected
    assert (await env.row(Device, main.id)).disconnected_at == last + env.timeout
    assert (await env.row(Device, aux.id)).disconnected_at is None
    (event,) = [e for e in await env.events(scene.sitting_id) if e.kind == "device_offline"]
    assert (event.device_id, event.at, event.details["reason"]) == (main.id, last + env.timeout, "heartbeat_timeout")
    assert await interruptions(env, main.id) == [("offline", last + env.timeout, None)]


async def test_sweep_leaves_superseded_phones_alone(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    await connect(env, main.id)
    await env.device(scene.candidate, scene.sitting_id, DeviceRole.main)
    async with env.tx() as db:
        assert await presence.sweep(db, now=env.now() + 10 * env.timeout, timeout=env.timeout) == 0


READINESS = [
    # (label, face passed, phones online, expected)
    ("face passed, both online", True, (DeviceRole.main, DeviceRole.aux), SittingState.ready),
    ("face passed, only main online", True, (DeviceRole.main,), SittingState.waiting),
    ("face passed, only aux online", True, (DeviceRole.aux,), SittingState.waiting),
    ("both online, no face pass", False, (DeviceRole.main, DeviceRole.aux), SittingState.waiting),
]


@pytest.mark.parametrize(("label", "face", "online", "expected"), READINESS, ids=[r[0] for r in READINESS])
async def test_refresh_readiness(scene: Scene, env: Env, label: str, face: bool, online: tuple[DeviceRole, ...], expected: SittingState) -> None:
    phones = dict(zip(DeviceRole, await scene.phones(), strict=True))
    env.clock.set(OPENS + M)
    for role in online:
        await connect(env, phones[role].id)  # (connect refreshes readiness too: without the face pass, no change)
    if face:
        await env.set_facts(scene.sitting_id, face_passed_at=env.now())
    async with env.tx() as db:
        assert await presence.refresh_readiness(db, view=await scene.load(db), now=env.now(), timeout=env.timeout) is expected
    assert (await scene.view()).sitting.ready_at == (env.now() if expected is SittingState.ready else None)


async def test_refresh_readiness_counts_only_while_waiting(scene: Scene, env: Env) -> None:
    main, aux = await scene.phones()
    await env.set_facts(scene.sitting_id, face_passed_at=T0)
    for at in (T0, STARTS):  # scheduled, then absent: both phones online and the face passed do not make it ready
        env.clock.set(at)
        await connect(env, main.id)
        await connect(env, aux.id)
        async with env.tx() as db:
            assert await presence.refresh_readiness(db, view=await scene.load(db), now=at, timeout=env.timeout) is (await scene.view()).state
    assert (await scene.view()).sitting.ready_at is None


async def test_a_silent_phone_is_not_online_for_readiness(scene: Scene, env: Env) -> None:
    main, aux = await scene.phones()
    env.clock.set(OPENS)
    await connect(env, main.id)
    await connect(env, aux.id)
    env.clock.advance(seconds=TIMEOUT.seconds + 1)
    await connect(env, main.id)  # only the main phone is still beating
    async with env.tx() as db:
        view = await scene.load(db)
        assert await presence.face_passed(db, view=view, now=env.now(), timeout=env.timeout) is SittingState.waiting
    view = await scene.view()
    assert (view.sitting.face_passed_at, view.sitting.ready_at) == (env.now(), None)
    await connect(env, aux.id)  # back: connect refreshes readiness
    assert (await scene.view()).state is SittingState.ready


async def test_face_passed_outside_the_waiting_room_changes_nothing(scene: Scene, env: Env) -> None:
    main, aux = await scene.phones()
    await connect(env, main.id)
    await connect(env, aux.id)
    async with env.tx() as db:
        assert await presence.face_passed(db, view=await scene.load(db), now=env.now(), timeout=env.timeout) is SittingState.scheduled
    assert (await scene.view()).sitting.face_passed_at is None


async def test_enforce_away_terminates_as_of_the_breach_however_late_it_runs(scene: Scene, env: Env) -> None:
    main, aux = await scene.phones()
    await env.set_facts(scene.sitting_id, ready_at=READY_AT)
    env.clock.set(STARTS + M)
    await connect(env, main.id)
    await connect(env, aux.id)
    await disconnect(env, aux.id)  # gone at 09:01, never back; the grace is 120 s
    async with env.tx() as db:
        await presence.enforce_away(db, now=STARTS + 3 * M)
    assert (await scene.view()).sitting.terminated_at is None  # exactly the grace: not yet
    async with env.tx() as db:
        await presence.enforce_away(db, now=STARTS + 8 * M)  # a pass running late
    view = await scene.view()
    assert (view.sitting.terminated_at, view.sitting.terminated_reason) == (STARTS + 3 * M, "interruption_too_long")


async def test_enforce_away_leaves_a_phone_away_before_answering(scene: Scene, env: Env) -> None:
    _, aux = await scene.phones()
    await env.set_facts(scene.sitting_id, ready_at=READY_AT)
    env.clock.set(OPENS)
    await connect(env, aux.id)
    await disconnect(env, aux.id)  # away from 08:50; counts only from 09:00
    async with env.tx() as db:
        await presence.enforce_away(db, now=STARTS - S)
        await presence.enforce_away(db, now=STARTS + 2 * M)
    assert (await scene.view(STARTS + 2 * M)).state is SittingState.answering
    async with env.tx() as db:
        await presence.enforce_away(db, now=STARTS + 2 * M + S)
    assert (await scene.view()).sitting.terminated_at == STARTS + 2 * M
