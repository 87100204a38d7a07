"""The scheduler in one process, driven tick by tick with the fake clock: each phase is announced once, in
order, at its boundary; a late tick catches up and judges absent/incomplete as of the boundary; ticking twice
or from two schedulers at once decides nothing twice; practice attempts are announced one by one."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.adapters.hub import Hub, MemoryHub

from app.services.sitting.channels import session_channel, sitting_channel
from app.clock import FileClock
from app.models import Sitting
from app.scheduler import Scheduler, SoleLeader
from app.services.sitting.lifecycle import SittingState
from app.services.sitting.facts import mark_ready, mark_uploaded
from tests.support.api import Api
from tests.support.processes import DEADLINE, ENDS, OPENS, QUESTIONS, STARTS, T0, Formal, formal_scenario, set_fact

pytestmark = pytest.mark.anyio

SECOND = timedelta(seconds=1)


class Recorder:
    """Subscribes to hub channels and keeps (channel, message) in arrival order."""

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack
        self.seen: list[tuple[str, dict[str, Any]]] = []

    async def listen(self, hub: Hub, *channels: str) -> None:
        for channel in channels:
            messages = await self._stack.enter_async_context(hub.subscribe(channel))
            task = asyncio.create_task(self._pump(channel, messages))
            self._stack.push_async_callback(self._stop, task)

    @staticmethod
    async def _stop(task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _pump(self, channel: str, messages: AsyncIterator[dict[str, Any]]) -> None:
        async for message in messages:
            self.seen.append((channel, message))

    async def take(self) -> list[tuple[str, dict[str, Any]]]:
        """Everything published so far (MemoryHub queues synchronously; the pumps need a few loop turns)."""
        for _ in range(10):
            await asyncio.sleep(0)
        taken, self.seen = self.seen, []
        return taken


@asynccontextmanager
async def recording() -> AsyncIterator[Recorder]:
    async with AsyncExitStack() as stack:
        yield Recorder(stack)


def phase(session_id: str, name: str, at: datetime, **extra: Any) -> tuple[str, dict[str, Any]]:
    return session_channel(session_id), {"type": "phase", "phase": name, "session_id": session_id, "at": at.isoformat(), **extra}


def state(sitting_id: str, value: str) -> tuple[str, dict[str, Any]]:
    return sitting_channel(sitting_id), {"type": "sitting.state", "sitting_id": sitting_id, "state": value}


def question_list(messages: list[tuple[str, dict[str, Any]]]) -> list[str]:
    (questions,) = [m["questions"] for _, m in messages if m.get("phase") == "answer_start"]
    assert all(set(q) == {"id", "position", "text", "has_image"} for q in questions)
    return [q["text"] for q in sorted(questions, key=lambda q: q["position"])]


async def tick_at(api: Api, when: datetime) -> int:
    api.clock.set(when)
    return await api.app.state.scheduler.tick()


async def audit(api: Api, ops: str, action: str) -> list[dict[str, Any]]:
    entries = await api.ok("GET", "/api/v1/ops/audit", ops, params={"action": action, "limit": 1000})
    return sorted(entries, key=lambda e: (e["details"].get("due_at", ""), e["target_id"]))


async def counts(api: Api, f: Formal) -> dict[str, int]:
    body = await api.ok("GET", f"/api/v1/ops/sessions/{f.session_id}/status", f.ops)
    assert body["total"] == sum(body["counts"].values())
    return {k: v for k, v in body["counts"].items() if v}


async def outcomes(api: Api, f: Formal) -> dict[str, tuple[str | None, datetime | None]]:
    """What the scheduler recorded on each sitting (no endpoint shows it)."""
    async with api.app.state.sessionmaker() as db:
        result = {}
        for name, sitting_id in f.sittings.items():
            sitting = await db.get_one(Sitting, uuid.UUID(sitting_id))
            result[name] = (sitting.outcome, sitting.outcome_at)
        return result


async def test_each_phase_is_announced_once_in_order_at_its_boundary(api: Api) -> None:
    f = await formal_scenario(api)
    甲, 乙, 丙 = (f.sittings[n] for n in ("甲", "乙", "丙"))
    async with recording() as hub:
        await hub.listen(api.app.state.hub, session_channel(f.session_id), *(sitting_channel(s) for s in f.sittings.values()))

        assert await tick_at(api, T0) == 0
        assert await tick_at(api, OPENS - SECOND) == 0
        assert await hub.take() == []

        assert await tick_at(api, OPENS) == 1
        assert await hub.take() == [phase(f.session_id, "waiting_open", OPENS)]
        assert await tick_at(api, OPENS) == 0  # the same instant again: nothing new
        assert await hub.take() == []

        # The device/face services report 甲 and 丙 ready during the waiting window.
        api.clock.set(OPENS + 2 * 60 * SECOND)
        for name in ("甲", "丙"):
            assert await set_fact(api.app.state.sessionmaker, f.sittings[name], mark_ready, api.clock.now()) is SittingState.ready
        assert await counts(api, f) == {"ready": 2, "waiting": 1}

        assert await tick_at(api, STARTS - SECOND) == 0
        assert await hub.take() == []
        assert await tick_at(api, STARTS) == 1
        messages = await hub.take()
        assert question_list(messages) == list(QUESTIONS)
        assert [(c, {k: v for k, v in m.items() if k != "questions"}) for c, m in messages] == [
            phase(f.session_id, "answer_start", STARTS, live_still_seconds=20),
            state(乙, "absent"),  # never ready when answering started
        ]
        assert await counts(api, f) == {"answering": 2, "absent": 1}

        assert await tick_at(api, ENDS - SECOND) == 0
        assert await tick_at(api, ENDS) == 1
        assert await hub.take() == [phase(f.session_id, "answer_end", ENDS)]

        # The upload service verifies 丙's two recordings before the deadline; 甲's never arrive.
        assert await set_fact(api.app.state.sessionmaker, 丙, mark_uploaded, ENDS + 60 * SECOND) is SittingState.uploaded

        assert await tick_at(api, DEADLINE - SECOND) == 0
        assert await tick_at(api, DEADLINE) == 1
        assert await hub.take() == [phase(f.session_id, "upload_closed", DEADLINE), state(甲, "incomplete")]

        assert await tick_at(api, DEADLINE + 3600 * SECOND) == 0
        assert await hub.take() == []

    announced = await audit(api, f.ops, "phase.announce")
    assert [(e["target_kind"], e["target_id"], e["details"]) for e in announced] == [
        # The audit log shows the exam's times in its offset (Beijing), like every ops answer.
        ("session", f.session_id, {"phase": p, "due_at": at.astimezone(ZoneInfo("Asia/Shanghai")).isoformat(), "late_seconds": 0.0})
        for p, at in (("waiting_open", OPENS), ("answer_start", STARTS), ("answer_end", ENDS), ("upload_closed", DEADLINE))
    ]
    assert all(e["actor_kind"] == "system" and e["actor_id"] == "scheduler" for e in announced)
    assert [(e["target_id"], e["details"]) for e in await audit(api, f.ops, "sitting.absent")] == [(乙, {"phase": "answer_start"})]
    assert [(e["target_id"], e["details"]) for e in await audit(api, f.ops, "sitting.incomplete")] == [(甲, {"phase": "upload_closed"})]
    assert await counts(api, f) == {"uploaded": 1, "absent": 1, "incomplete": 1}
    assert await outcomes(api, f) == {"甲": ("incomplete", DEADLINE), "乙": ("absent", STARTS), "丙": (None, None)}


async def test_a_late_tick_announces_every_missed_phase_in_order_and_judges_at_each_boundary(api: Api) -> None:
    f = await formal_scenario(api)
    甲, 乙, 丙 = (f.sittings[n] for n in ("甲", "乙", "丙"))
    # Facts keep arriving while no tick runs at all (the scheduler was down).
    for name in ("甲", "丙"):
        assert await set_fact(api.app.state.sessionmaker, f.sittings[name], mark_ready, OPENS + 2 * 60 * SECOND) is SittingState.ready
    assert await set_fact(api.app.state.sessionmaker, 丙, mark_uploaded, ENDS + 60 * SECOND) is SittingState.uploaded

    late = DEADLINE + 2 * 3600 * SECOND
    async with recording() as hub:
        await hub.listen(api.app.state.hub, session_channel(f.session_id), *(sitting_channel(s) for s in f.sittings.values()))
        assert await tick_at(api, late) == 4
        messages = await hub.take()
        assert question_list(messages) == list(QUESTIONS)
        assert [(c, {k: v for k, v in m.items() if k != "questions"}) for c, m in messages] == [
            phase(f.session_id, "waiting_open", OPENS),
            phase(f.session_id, "answer_start", STARTS, live_still_seconds=20),
            state(乙, "absent"),
            phase(f.session_id, "answer_end", ENDS),
            phase(f.session_id, "upload_closed", DEADLINE),
            state(甲, "incomplete"),
        ]
        assert await tick_at(api, late) == 0
        assert await hub.take() == []

    announced = await audit(api, f.ops, "phase.announce")
    assert [(e["details"]["phase"], e["details"]["late_seconds"]) for e in announced] == [
        (p, (late - at).total_seconds())
        for p, at in (("waiting_open", OPENS), ("answer_start", STARTS), ("answer_end", ENDS), ("upload_closed", DEADLINE))
    ]
    assert {datetime.fromisoformat(e["at"]) for e in announced} == {late}  # recorded when it ran, decided as of the boundary
    # 甲 got ready in time: late or not, not absent; 丙 uploaded before the deadline: not incomplete.
    assert [e["target_id"] for e in await audit(api, f.ops, "sitting.absent")] == [乙]
    assert [e["target_id"] for e in await audit(api, f.ops, "sitting.incomplete")] == [甲]
    assert await outcomes(api, f) == {"甲": ("incomplete", DEADLINE), "乙": ("absent", STARTS), "丙": (None, None)}
    assert await counts(api, f) == {"uploaded": 1, "absent": 1, "incomplete": 1}


async def test_ticking_twice_or_from_two_schedulers_at_once_decides_nothing_twice(api: Api) -> None:
    f = await formal_scenario(api)
    甲, 乙, 丙 = (f.sittings[n] for n in ("甲", "乙", "丙"))
    other_hub = MemoryHub()
    other = Scheduler(sessionmaker=api.app.state.sessionmaker, hub=other_hub, clock=api.clock, leadership=SoleLeader(), tick_seconds=1, live_still_seconds=20)
    mine = api.app.state.scheduler
    async with recording() as hub:
        channels = (session_channel(f.session_id), *(sitting_channel(s) for s in f.sittings.values()))
        await hub.listen(api.app.state.hub, *channels)
        await hub.listen(other_hub, *channels)

        api.clock.set(OPENS + 60 * SECOND)
        assert await set_fact(api.app.state.sessionmaker, 甲, mark_ready, api.clock.now()) is SittingState.ready
        api.clock.set(STARTS)  # waiting_open and answer_start are both due
        assert sum(await asyncio.gather(mine.tick(), other.tick())) == 2
        assert sum(await asyncio.gather(mine.tick(), other.tick())) == 0
        api.clock.set(DEADLINE + SECOND)
        assert sum(await asyncio.gather(other.tick(), mine.tick(), other.tick(), mine.tick())) == 2
        assert await mine.tick() == 0 and await other.tick() == 0

        messages = await hub.take()
        assert sorted(m["phase"] for _, m in messages if m["type"] == "phase") == sorted(
            ["waiting_open", "answer_start", "answer_end", "upload_closed"]
        )
        assert sorted((c, m["state"]) for c, m in messages if m["type"] == "sitting.state") == sorted(
            [(sitting_channel(乙), "absent"), (sitting_channel(丙), "absent"), (sitting_channel(甲), "incomplete")]
        )

    assert [e["details"]["phase"] for e in await audit(api, f.ops, "phase.announce")] == [
        "waiting_open", "answer_start", "answer_end", "upload_closed"
    ]
    assert sorted(e["target_id"] for e in await audit(api, f.ops, "sitting.absent")) == sorted([乙, 丙])
    assert [e["target_id"] for e in await audit(api, f.ops, "sitting.incomplete")] == [甲]
    assert await counts(api, f) == {"absent": 2, "incomplete": 1}


async def test_a_running_scheduler_announces_a_boundary_on_the_dot_between_its_ticks(api: Api) -> None:
    f = await formal_scenario(api)
    hub = MemoryHub()
    scheduler = Scheduler(sessionmaker=api.app.state.sessionmaker, hub=hub, clock=api.clock, leadership=SoleLeader(), tick_seconds=60, live_still_seconds=20)
    async with recording() as heard:
        await heard.listen(hub, session_channel(f.session_id))
        api.clock.set(STARTS - timedelta(milliseconds=400))
        try:
            assert await scheduler.start() == 1  # the waiting window's opening, caught up at once
            api.clock.set(STARTS)  # the 400 ms pass (of the wall's time) on this clock
            waited = asyncio.get_running_loop().time()
            seen: list[str] = [m["phase"] for _, m in await heard.take()]
            while "answer_start" not in seen and asyncio.get_running_loop().time() - waited < 10:
                await asyncio.sleep(0.05)
                seen += [m["phase"] for _, m in await heard.take()]
        finally:
            await scheduler.stop()
    # Heard long before the next tick (a minute away): the pass woke for the boundary itself.
    assert seen == ["waiting_open", "answer_start"]
    assert asyncio.get_running_loop().time() - waited < 10


async def test_practice_attempts_are_announced_one_by_one_on_their_sitting_channel(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    practice = await api.session(ops, exam["id"], "practice", waiting_seconds=60, answer_seconds=120, upload_seconds=600)
    for text in ("练习题一", "练习题二", "练习题三"):
        await api.question(ops, practice["id"], text)
    _, token = await api.candidate(ops, exam["id"])
    _, other = await api.candidate(ops, exam["id"], seq=2, name="李四")  # one open attempt each: the second is theirs
    at = {"first": T0 + 5 * SECOND, "second": T0 + 95 * SECOND}

    def attempt_phase(sitting_id: str, name: str, when: datetime, **extra: Any) -> tuple[str, dict[str, Any]]:
        message = {"type": "phase", "phase": name, "session_id": practice["id"], "at": when.isoformat(), **extra, "sitting_id": sitting_id}
        return sitting_channel(sitting_id), message

    async with recording() as hub:
        await hub.listen(api.app.state.hub, session_channel(practice["id"]))
        api.clock.set(at["first"])
        first = (await api.ok("POST", f"/api/v1/candidate/practice/{practice['id']}/attempts", token, status=201))["id"]
        await hub.listen(api.app.state.hub, sitting_channel(first))
        assert await tick_at(api, at["first"]) == 1
        assert await hub.take() == [attempt_phase(first, "waiting_open", at["first"])]
        assert await set_fact(api.app.state.sessionmaker, first, mark_ready, at["first"] + 30 * SECOND) is SittingState.ready

        assert await tick_at(api, at["first"] + 60 * SECOND) == 1
        drawn = await api.ok("GET", f"/api/v1/candidate/sittings/{first}/questions", token)
        (drawn_question,) = drawn["questions"]
        messages = await hub.take()
        assert question_list(messages) == [drawn_question["text"]]  # only this attempt's question
        assert [(c, {k: v for k, v in m.items() if k != "questions"}) for c, m in messages] == [
            attempt_phase(first, "answer_start", at["first"] + 60 * SECOND, live_still_seconds=20)
        ]

        api.clock.set(at["second"])
        second = (await api.ok("POST", f"/api/v1/candidate/practice/{practice['id']}/attempts", other, status=201))["id"]
        await hub.listen(api.app.state.hub, sitting_channel(second))
        assert await tick_at(api, at["second"]) == 1
        assert await hub.take() == [attempt_phase(second, "waiting_open", at["second"])]
        assert await tick_at(api, at["second"] + 60 * SECOND) == 1  # never ready: the attempt ends there, unfinished
        messages = await hub.take()
        assert [(c, {k: v for k, v in m.items() if k != "questions"}) for c, m in messages] == [
            attempt_phase(second, "answer_start", at["second"] + 60 * SECOND, live_still_seconds=20),
            state(second, "incomplete"),
        ]
        assert await tick_at(api, at["first"] + 180 * SECOND) == 1
        assert await hub.take() == [attempt_phase(first, "answer_end", at["first"] + 180 * SECOND)]

        # One late tick: what is left of both attempts, in time order.
        assert await tick_at(api, T0 + 3600 * SECOND) == 3
        assert await hub.take() == [
            attempt_phase(second, "answer_end", at["second"] + 180 * SECOND),
            attempt_phase(first, "upload_closed", at["first"] + 780 * SECOND),
            state(first, "incomplete"),
            attempt_phase(second, "upload_closed", at["second"] + 780 * SECOND),
        ]
        assert await tick_at(api, T0 + 3600 * SECOND) == 0
        assert await hub.take() == []  # nothing at all went to the session channel

    announced = await audit(api, ops, "phase.announce")
    assert sorted((e["target_kind"], e["target_id"], e["details"]["phase"]) for e in announced) == sorted(
        ("sitting", s, p) for s in (first, second) for p in ("waiting_open", "answer_start", "answer_end", "upload_closed")
    )
    assert await audit(api, ops, "sitting.absent") == []  # a practice is never absent
    assert sorted(e["target_id"] for e in await audit(api, ops, "sitting.incomplete")) == sorted([first, second])
    status = await api.ok("GET", f"/api/v1/ops/sessions/{practice['id']}/status", ops)
    assert {k: v for k, v in status["counts"].items() if v} == {"incomplete": 2}


def test_the_file_clock_sees_every_write_and_rides_out_a_half_written_file(tmp_path: Path) -> None:
    path = tmp_path / "clock.txt"
    path.write_text("")
    clock = FileClock(path)
    with pytest.raises(ValueError):
        clock.now()  # no time yet: refuse rather than guess
    for minutes in (0, 1, 2):  # rewritten in place, same length, back to back
        path.write_text((T0 + timedelta(minutes=minutes)).isoformat())
        assert clock.now() == T0 + timedelta(minutes=minutes)
    path.write_text("")  # a writer between truncate and write
    assert clock.now() == T0 + timedelta(minutes=2)
    path.write_text("2026-06-01T08:30:00+08:00")
    assert clock.now() == T0 + timedelta(minutes=30)
