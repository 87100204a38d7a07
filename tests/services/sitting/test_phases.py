"""sitting/phases: what is due at each boundary, announced once per key (a second run fails on the unique key and
decides nothing), and the final decisions (absent at answer start, incomplete at upload close) judged at the
boundary instant however late the announcement runs."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.models import AuditLog, PhaseAnnouncement, Sitting
from app.services.sitting import phases, sittings
from app.services.sitting.channels import session_channel, sitting_channel
from app.services.sitting.phases import Phase
from tests.conftest import T0
from tests.services.conftest import DEADLINE, ENDS, OPENS, QUESTION, READY_AT, STARTS, Env, M, S, Scene

pytestmark = pytest.mark.anyio


async def due_at(env: Env, now: datetime) -> list[phases.Due]:
    async with env.tx() as db:
        return await phases.find_due(db, now=now)


async def announce(env: Env, due: phases.Due, now: datetime) -> phases.Outbox:
    async with env.tx() as db:
        return await phases.announce(db, due=due, now=now, live_still_seconds=20)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (T0, []),
        (OPENS - S, []),
        (OPENS, [Phase.waiting_open]),
        (STARTS - S, [Phase.waiting_open]),
        (STARTS, [Phase.waiting_open, Phase.answer_start]),
        (ENDS, [Phase.waiting_open, Phase.answer_start, Phase.answer_end]),
        (DEADLINE, list(Phase)),
        (DEADLINE + timedelta(days=29), list(Phase)),
        (DEADLINE + timedelta(days=30), []),  # beyond the catch-up: no longer looked at
    ],
)
async def test_find_due_lists_past_boundaries_in_order(scene: Scene, now: datetime, expected: list[Phase]) -> None:
    due = await due_at(scene.env, now)
    assert [d.phase for d in due] == expected
    assert [d.key for d in due] == [f"session:{scene.session.id}:{p.value}" for p in expected]
    assert all(d.session_id == scene.session.id and d.sitting_id is None for d in due)


async def test_an_announced_phase_is_no_longer_due_and_cannot_be_announced_twice(scene: Scene, env: Env) -> None:
    (opening,) = await due_at(env, OPENS)
    await announce(env, opening, OPENS + S)
    assert [d.phase for d in await due_at(env, STARTS)] == [Phase.answer_start]
    with pytest.raises(IntegrityError):
        await announce(env, opening, OPENS + 2 * S)  # another replica, or a rerun: rolled back
    async with env.tx() as db:
        (row,) = (await db.scalars(select(PhaseAnnouncement))).all()
        announced = (await db.scalars(select(AuditLog).where(AuditLog.action == "phase.announce"))).all()
    assert (row.key, row.due_at, row.announced_at) == (opening.key, OPENS, OPENS + S)
    assert len(announced) == 1


async def test_answer_start_decides_absent_as_of_the_boundary(env: Env) -> None:
    exam = await env.exam()
    session = await env.formal(exam, QUESTION, "第二题")
    absent, ready, terminated_later = [await env.candidate(exam) for _ in range(3)]
    absent_id, ready_id, later_id = [await env.sitting_id(c, session) for c in (absent, ready, terminated_later)]
    await env.set_facts(ready_id, ready_at=READY_AT)
    await env.set_facts(later_id, ready_at=STARTS, terminated_at=STARTS + M)  # ready too late; terminated since
    late = STARTS + 2 * 60 * M  # the scheduler was down for two hours: the ready sitting is recorded by now
    start = next(d for d in await due_at(env, late) if d.phase is Phase.answer_start)
    outbox = await announce(env, start, late)

    phase, *states = outbox.messages
    assert phase[0] == session_channel(session.id)
    assert {k: v for k, v in phase[1].items() if k != "questions"} == {"type": "phase", "phase": "answer_start", "session_id": str(session.id), "at": STARTS.isoformat(), "live_still_seconds": 20}
    assert [q["text"] for q in phase[1]["questions"]] == [QUESTION, "第二题"]
    assert sorted(states, key=lambda m: m[0]) == sorted(
        [(sitting_channel(i), {"type": "sitting.state", "sitting_id": str(i), "state": "absent"}) for i in (absent_id, later_id)], key=lambda m: m[0]
    )
    for sitting_id, outcome in ((absent_id, "absent"), (later_id, "absent"), (ready_id, None)):
        row = await env.row(Sitting, sitting_id)
        assert (row.outcome, row.outcome_at) == ((outcome, STARTS) if outcome else (None, None))
    entries = await env.audit("sitting.absent")
    assert {e.target_id for e in entries} == {str(absent_id), str(later_id)}
    assert {e.at for e in entries} == {late}  # recorded when it ran, decided as of the boundary


async def test_upload_closed_decides_incomplete_and_leaves_the_rest(env: Env) -> None:
    exam = await env.exam()
    session = await env.formal(exam, QUESTION)
    people = [await env.candidate(exam) for _ in range(3)]
    missing, uploaded, absent = [await env.sitting_id(c, session) for c in people]
    await env.set_facts(missing, ready_at=READY_AT)
    await env.set_facts(uploaded, ready_at=READY_AT, uploaded_at=ENDS + M)
    for due in await due_at(env, DEADLINE + M):
        await announce(env, due, DEADLINE + M)
    assert [(r.outcome, r.outcome_at) for r in [await env.row(Sitting, i) for i in (missing, uploaded, absent)]] == [
        ("incomplete", DEADLINE), (None, None), ("absent", STARTS),
    ]  # fmt: skip
    assert await due_at(env, DEADLINE + 2 * M) == []


async def test_practice_attempts_are_announced_one_by_one_with_their_drawn_question(env: Env) -> None:
    exam = await env.exam()
    practice = await env.practice(exam, "练一", "练二", waiting=60, answer=120, upload=600)
    candidate, other = await env.candidate(exam), await env.candidate(exam)
    async with env.tx() as db:
        first, _ = await sittings.start_practice(db, candidate=candidate, session_id=practice.id, now=T0)
        second, _ = await sittings.start_practice(db, candidate=other, session_id=practice.id, now=T0 + 30 * S)
    due = await due_at(env, T0 + 60 * S)
    assert [(d.sitting_id, d.phase, d.at) for d in due] == [
        (first.sitting.id, Phase.waiting_open, T0),
        (second.sitting.id, Phase.waiting_open, T0 + 30 * S),
        (first.sitting.id, Phase.answer_start, T0 + 60 * S),
    ]  # fmt: skip
    assert due[0].key == f"sitting:{first.sitting.id}:waiting_open"
    outbox = await announce(env, due[2], T0 + 60 * S)
    (channel, message), (state_channel, state) = outbox.messages
    assert (channel, message["sitting_id"]) == (sitting_channel(first.sitting.id), str(first.sitting.id))
    assert [q["id"] for q in message["questions"]] == [str(first.sitting.question_id)]
    # Not ready when its waiting ended: the practice attempt ends there, unfinished (no absence from a practice).
    assert (state_channel, state["state"]) == (sitting_channel(first.sitting.id), "incomplete")
    assert ((row := await env.row(Sitting, first.sitting.id)).outcome, row.outcome_at) == ("incomplete", T0 + 60 * S)
    assert (await env.row(Sitting, second.sitting.id)).outcome is None  # not this attempt's announcement
    assert await due_at(env, T0 + timedelta(days=3, seconds=30)) == []  # both older than the practice span
