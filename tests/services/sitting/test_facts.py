"""sitting/facts: each hook checks the state at `now` (a late call cannot revive a closed sitting), writes its fact
and audit entry, and announces the change on the sitting's channel once the transaction commits."""

from __future__ import annotations

import pytest

from app import errors
from app.services.audit import Actor
from app.services.sitting import facts
from app.services.sitting.channels import sitting_channel
from app.services.sitting.lifecycle import SittingState
from tests.services.conftest import READY_AT, STARTS, STATES, Env, M, S, Scene

pytestmark = pytest.mark.anyio

ss = SittingState
PROCTOR = Actor("ops", "proctor")


def other_than(*states: SittingState) -> list[SittingState]:
    return [s for s in SittingState if s not in states]


def announced(scene: Scene, heard, **message: object) -> None:
    assert heard.on(sitting_channel(scene.sitting_id)) == [{"type": "sitting.state", "sitting_id": str(scene.sitting_id), **message}]


@pytest.mark.parametrize("state", list(SittingState), ids=lambda s: s.value)
async def test_mark_face_passed_counts_only_in_the_waiting_room(scene: Scene, state: SittingState) -> None:
    now = await scene.into(state)
    async with scene.env.tx() as db:
        passed = facts.mark_face_passed(db, view=await scene.load(db), now=now)
    assert passed is (state in (ss.waiting, ss.ready))
    assert (await scene.view()).sitting.face_passed_at == (now if passed else None)


async def test_mark_ready_while_waiting(scene: Scene, env: Env) -> None:
    now = await scene.into(ss.waiting)
    async with env.hearing(sitting_channel(scene.sitting_id)) as heard:
        async with env.tx() as db:
            assert facts.mark_ready(db, view=await scene.load(db), now=now) is ss.ready
        announced(scene, heard, state="ready")
    assert (await scene.view()).sitting.ready_at == now
    assert [a.target_id for a in await env.audit("sitting.ready")] == [str(scene.sitting_id)]


@pytest.mark.parametrize("state", other_than(ss.waiting), ids=lambda s: s.value)
async def test_mark_ready_only_while_waiting(scene: Scene, env: Env, state: SittingState) -> None:
    now = await scene.into(state)
    before = (await scene.view()).sitting.ready_at
    async with env.hearing(sitting_channel(scene.sitting_id)) as heard:
        async with env.tx() as db:
            assert facts.mark_ready(db, view=await scene.load(db), now=now + S) is state
        assert heard.messages == []
    assert (await scene.view()).sitting.ready_at == before
    assert await env.audit("sitting.ready") == []


async def test_stop_recording_while_answering(scene: Scene, env: Env) -> None:
    now = await scene.into(ss.answering)
    async with env.hearing(sitting_channel(scene.sitting_id)) as heard:
        async with env.tx() as db:
            assert facts.stop_recording(db, view=await scene.load(db), now=now, actor=PROCTOR) is ss.recorded
        announced(scene, heard, state="recorded", command="stop")
    view = await scene.view()
    assert (view.sitting.recording_stopped_at, view.state) == (now, ss.recorded)
    (entry,) = await env.audit("sitting.recording.stop")
    assert (entry.actor_kind, entry.actor_id) == ("ops", "proctor")


@pytest.mark.parametrize("state", other_than(ss.answering), ids=lambda s: s.value)
async def test_stop_recording_only_while_answering(scene: Scene, env: Env, state: SittingState) -> None:
    now = await scene.into(state)
    async with env.tx() as db:
        with pytest.raises(errors.SittingClosed):
            facts.stop_recording(db, view=await scene.load(db), now=now, actor=PROCTOR)
    assert (await scene.view()).sitting.recording_stopped_at == STATES[state][0].get("recording_stopped_at")


@pytest.mark.parametrize("state", [ss.scheduled, ss.waiting, ss.ready, ss.answering, ss.recorded], ids=lambda s: s.value)
async def test_terminate_as_of_when_the_rule_was_broken(scene: Scene, env: Env, state: SittingState) -> None:
    now = await scene.into(state)
    broken = now - 10 * S
    async with env.hearing(sitting_channel(scene.sitting_id)) as heard:
        async with env.tx() as db:
            assert facts.terminate(db, view=await scene.load(db), reason="ops_decision", now=now, actor=PROCTOR, at=broken) is ss.terminated
        announced(scene, heard, state="terminated", reason="ops_decision", command="stop")
    view = await scene.view()
    assert (view.sitting.terminated_at, view.sitting.terminated_reason, view.state) == (broken, "ops_decision", ss.terminated)
    (entry,) = await env.audit("sitting.terminate")
    assert (entry.at, entry.details) == (now, {"reason": "ops_decision", "at": broken.isoformat()})


async def test_terminate_without_at_is_as_of_now(scene: Scene, env: Env) -> None:
    now = await scene.into(ss.answering)
    async with env.tx() as db:
        facts.terminate(db, view=await scene.load(db), reason="cheating", now=now, actor=PROCTOR)
    assert (await scene.view()).sitting.terminated_at == now


@pytest.mark.parametrize("state", [ss.uploaded, ss.absent, ss.terminated, ss.incomplete], ids=lambda s: s.value)
async def test_terminate_leaves_a_final_state_as_it_is(scene: Scene, env: Env, state: SittingState) -> None:
    now = await scene.into(state)
    before = (await scene.view()).sitting.terminated_at
    async with env.hearing(sitting_channel(scene.sitting_id)) as heard:
        async with env.tx() as db:
            assert facts.terminate(db, view=await scene.load(db), reason="late", now=now, actor=PROCTOR) is state
        assert heard.messages == []
    assert (await scene.view()).sitting.terminated_at == before
    assert await env.audit("sitting.terminate") == []


async def test_mark_uploaded_while_answering_also_stops_the_recording(scene: Scene, env: Env) -> None:
    now = await scene.into(ss.answering)
    async with env.hearing(sitting_channel(scene.sitting_id)) as heard:
        async with env.tx() as db:
            assert facts.mark_uploaded(db, view=await scene.load(db), now=now) is ss.uploaded
        announced(scene, heard, state="uploaded")
    view = await scene.view()
    assert (view.sitting.uploaded_at, view.sitting.recording_stopped_at, view.state) == (now, now, ss.uploaded)


async def test_mark_uploaded_when_recorded_keeps_the_stop(scene: Scene, env: Env) -> None:
    await env.set_facts(scene.sitting_id, ready_at=READY_AT, recording_stopped_at=STARTS + M)
    now = STARTS + 2 * M
    async with env.tx() as db:
        view = await scene.load(db)
        assert view.at(now).state is ss.recorded
        assert facts.mark_uploaded(db, view=view.at(now), now=now) is ss.uploaded
    view = await scene.view(now)
    assert (view.sitting.uploaded_at, view.sitting.recording_stopped_at) == (now, STARTS + M)


@pytest.mark.parametrize("state", other_than(ss.answering, ss.recorded), ids=lambda s: s.value)
async def test_mark_uploaded_only_while_answering_or_recorded(scene: Scene, env: Env, state: SittingState) -> None:
    now = await scene.into(state)
    before = (await scene.view()).sitting.uploaded_at
    async with env.hearing(sitting_channel(scene.sitting_id)) as heard:
        async with env.tx() as db:
            assert facts.mark_uploaded(db, view=await scene.load(db), now=now) is state
        assert heard.messages == []
    assert (await scene.view()).sitting.uploaded_at == before


async def test_nothing_is_announced_when_the_transaction_rolls_back(scene: Scene, env: Env) -> None:
    now = await scene.into(ss.waiting)
    async with env.hearing(sitting_channel(scene.sitting_id)) as heard:
        with pytest.raises(RuntimeError):
            async with env.tx() as db:
                facts.mark_ready(db, view=await scene.load(db), now=now)
                raise RuntimeError("the request failed after the hook")
        assert heard.messages == []
    assert (await scene.view()).sitting.ready_at is None
