"""sitting/proctoring: a phone's leaving/returning events open and close its interruptions; the exam's policy is
judged only while answering and, when broken, terminates the sitting as of the breach (not as of its detection)."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from app.models import Device, Interruption
from app.services.sitting import proctoring, sittings
from app.services.sitting.interruptions import Breach
from app.services.sitting.lifecycle import SittingState
from tests.services.conftest import QUESTION, READY_AT, STARTS, Env, M, S, Scene

pytestmark = pytest.mark.anyio


async def event(env: Env, device_id: uuid.UUID, kind: str, *, client_at: datetime | None = None, details: dict | None = None) -> None:
    async with env.tx() as db:
        device = await db.get_one(Device, device_id)
        await proctoring.device_event(db, device=device, kind=kind, now=env.now(), client_at=client_at, details=details or {})


async def stretches(env: Env, device_id: uuid.UUID) -> list[tuple[str, datetime, datetime | None]]:
    async with env.tx() as db:
        rows = await db.scalars(select(Interruption).where(Interruption.device_id == device_id).order_by(Interruption.started_at, Interruption.reason))
        return [(r.reason, r.started_at, r.ended_at) for r in rows]


async def enforce(scene: Scene, now: datetime) -> Breach | None:
    async with scene.env.tx() as db:
        return await proctoring.enforce(db, view=await sittings.load(db, sitting_id=scene.sitting_id, now=now), now=now)


PAIRS = [("app_hidden", "app_visible", "away"), ("call_started", "call_ended", "call"), ("screen_locked", "screen_unlocked", "lock")]


@pytest.mark.parametrize(("leaving", "returning", "reason"), PAIRS, ids=[p[2] for p in PAIRS])
async def test_leaving_opens_and_returning_closes_an_interruption(scene: Scene, env: Env, leaving: str, returning: str, reason: str) -> None:
    main, _ = await scene.phones()
    left = env.now()
    await event(env, main.id, leaving)
    env.clock.advance(seconds=5)
    await event(env, main.id, leaving)  # a repeated report does not open a second one
    assert await stretches(env, main.id) == [(reason, left, None)]
    env.clock.advance(seconds=5)
    await event(env, main.id, returning)
    await event(env, main.id, returning)  # nothing left open to close
    assert await stretches(env, main.id) == [(reason, left, left + 10 * S)]


async def test_interruptions_of_each_reason_and_phone_are_their_own(scene: Scene, env: Env) -> None:
    main, aux = await scene.phones()
    await event(env, main.id, "app_hidden")
    await event(env, main.id, "call_started")
    await event(env, aux.id, "app_hidden")
    env.clock.advance(seconds=1)
    await event(env, main.id, "call_ended")
    assert await stretches(env, main.id) == [("away", env.now() - S, None), ("call", env.now() - S, env.now())]
    assert await stretches(env, aux.id) == [("away", env.now() - S, None)]


async def test_every_event_is_recorded_with_server_time_and_the_phones_claim(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    claimed = env.now() - 3 * S
    await event(env, main.id, "battery_low", client_at=claimed, details={"battery": 0.1})
    (recorded,) = [e for e in await env.events(scene.sitting_id) if e.kind == "battery_low"]
    assert (recorded.device_id, recorded.source, recorded.at, recorded.client_at, recorded.details) == (main.id, "device", env.now(), claimed, {"battery": 0.1})
    assert await stretches(env, main.id) == []  # not a leaving event


async def test_enforce_terminates_as_of_the_breach(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    await env.set_facts(scene.sitting_id, ready_at=READY_AT)
    env.clock.set(STARTS + M)
    await event(env, main.id, "app_hidden")  # 09:01, never back; the grace is 120 s
    assert await enforce(scene, STARTS + 3 * M) is None  # exactly the grace
    assert (await scene.view(STARTS + 3 * M)).state is SittingState.answering
    found = await enforce(scene, STARTS + 7 * M)  # noticed late
    assert found == Breach(STARTS + 3 * M, "interruption_too_long")
    view = await scene.view()
    assert (view.sitting.terminated_at, view.sitting.terminated_reason) == (STARTS + 3 * M, "interruption_too_long")
    (broken,) = [e for e in await env.events(scene.sitting_id) if e.kind == "policy_broken"]
    assert (broken.at, broken.details) == (STARTS + 7 * M, {"reason": "interruption_too_long", "at": (STARTS + 3 * M).isoformat()})
    assert await enforce(scene, STARTS + 8 * M) is None  # terminated: final


async def test_enforce_applies_the_exams_own_policy(env: Env) -> None:
    exam = await env.exam(interruption_limit=0, interruption_grace_seconds=0)
    session = await env.formal(exam, QUESTION)
    candidate = await env.candidate(exam)
    scene = Scene(env, exam, session, candidate, await env.sitting_id(candidate, session))
    main, _ = await scene.phones()
    await env.set_facts(scene.sitting_id, ready_at=READY_AT)
    env.clock.set(STARTS + M)
    await event(env, main.id, "screen_locked")
    env.clock.advance(seconds=1)
    await event(env, main.id, "screen_unlocked")
    assert await enforce(scene, env.now()) == Breach(STARTS + M, "too_many_interruptions")


async def test_a_second_interruption_breaks_the_default_policy_at_its_start(scene: Scene, env: Env) -> None:
    main, aux = await scene.phones()
    await env.set_facts(scene.sitting_id, ready_at=READY_AT)
    env.clock.set(STARTS + M)
    await event(env, main.id, "app_hidden")
    env.clock.advance(seconds=10)
    await event(env, main.id, "app_visible")
    assert await enforce(scene, env.now()) is None  # one allowed
    env.clock.set(STARTS + 5 * M)
    await event(env, aux.id, "call_started")
    assert await enforce(scene, env.now()) == Breach(STARTS + 5 * M, "too_many_interruptions")


@pytest.mark.parametrize("state", [SittingState.waiting, SittingState.ready, SittingState.absent], ids=lambda s: s.value)
async def test_enforce_judges_nothing_outside_answering(scene: Scene, env: Env, state: SittingState) -> None:
    main, _ = await scene.phones()
    env.clock.set(STARTS - 5 * M)
    await event(env, main.id, "app_hidden")  # away since 08:55
    now = await scene.into(state)
    assert await enforce(scene, now) is None
    assert (await scene.view()).sitting.terminated_at is None


async def test_judge(scene: Scene, env: Env) -> None:
    await env.set_facts(scene.sitting_id, ready_at=READY_AT, recording_stopped_at=STARTS + 2 * M)
    view = await scene.view(STARTS + 3 * M)
    assert view.state is SittingState.recorded
    away = [Interruption(started_at=STARTS + M, ended_at=None)]
    # The answer window ends at the manual stop: away from 09:01, clipped at 09:02, is within the grace.
    assert proctoring.judge(view, away, STARTS + 10 * M) is None
    assert proctoring.judge(view.at(STARTS + 10 * S), [Interruption(started_at=STARTS - M, ended_at=None)], STARTS + 10 * S) is None
    assert proctoring.judge(view.at(STARTS - S), away, STARTS - S) is None  # not answering yet
    assert proctoring.policy_of(view.exam).grace.total_seconds() == 120
