"""sitting/sittings: the one loader (owner scoping, lock), a view judged at another instant, the candidate's sessions
(latest practice attempt), practice attempts on demand, and the per-state counts of a session."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app import errors
from app.models import SessionKind, Sitting
from app.services.sitting import sittings
from app.services.sitting.lifecycle import SittingState
from tests.conftest import PG_MODE, T0
from tests.services.conftest import DEADLINE, ENDS, OPENS, QUESTION, READY_AT, STARTS, Env, S, Scene, questions_of

pytestmark = pytest.mark.anyio


async def test_load_gives_the_sitting_with_its_session_exam_windows_and_state(scene: Scene) -> None:
    async with scene.env.tx() as db:
        view = await scene.load(db)
    assert (view.sitting.id, view.session.id, view.exam.id) == (scene.sitting_id, scene.session.id, scene.exam.id)
    assert (view.windows.waiting_opens_at, view.windows.answer_starts_at, view.windows.answer_ends_at, view.windows.upload_deadline) == (OPENS, STARTS, ENDS, DEADLINE)
    assert view.state is SittingState.scheduled
    assert view.timezone == "Asia/Shanghai"
    assert (await scene.view(OPENS)).state is SittingState.waiting


async def test_load_scoped_to_the_owner(scene: Scene, env: Env) -> None:
    other = await env.candidate(scene.exam)
    async with env.tx() as db:
        assert (await scene.load(db, candidate_id=scene.candidate.id)).sitting.id == scene.sitting_id
        with pytest.raises(errors.SittingNotFound):
            await scene.load(db, candidate_id=other.id)
        with pytest.raises(errors.SittingNotFound):
            await scene.load(db, candidate_id=other.id, lock=True)
        with pytest.raises(errors.SittingNotFound):
            await sittings.load(db, sitting_id=uuid.uuid4(), now=env.now())


async def test_load_with_lock_makes_it_the_one_writer_of_the_sitting(scene: Scene, env: Env) -> None:
    """On PostgreSQL the sitting row is locked until the transaction ends (SQLite has one writer anyway)."""
    locked = select(Sitting.id).where(Sitting.id == scene.sitting_id).with_for_update(nowait=True)
    async with env.tx() as db:
        view = await scene.load(db, lock=True, candidate_id=scene.candidate.id)
        assert view.sitting.id == scene.sitting_id
        if PG_MODE:
            async with env.app.state.sessionmaker() as other:
                with pytest.raises(DBAPIError, match="could not obtain lock"):
                    await other.execute(locked)
    async with env.app.state.sessionmaker() as other:  # released with the transaction
        assert await other.scalar(locked) == scene.sitting_id


@pytest.mark.parametrize(
    ("ready", "at", "expected"),
    [
        (False, OPENS - S, SittingState.scheduled),
        (False, OPENS, SittingState.waiting),
        (False, STARTS, SittingState.absent),
        (True, READY_AT, SittingState.ready),
        (True, STARTS, SittingState.answering),
        (True, ENDS, SittingState.recorded),
        (True, DEADLINE, SittingState.incomplete),
    ],
)
async def test_view_at_judges_the_same_sitting_at_another_instant(scene: Scene, ready: bool, at, expected: SittingState) -> None:
    if ready:
        await scene.env.set_facts(scene.sitting_id, ready_at=READY_AT)
    view = await scene.view()  # loaded at T0
    moved = view.at(at)
    assert moved.state is expected
    assert view.state is SittingState.scheduled  # the original is unchanged
    assert (moved.sitting, moved.session, moved.exam, moved.windows) == (view.sitting, view.session, view.exam, view.windows)


async def test_sessions_for_lists_every_session_with_the_latest_practice_attempt(env: Env) -> None:
    exam = await env.exam()
    formal = await env.formal(exam, QUESTION)
    practice = await env.practice(exam, "练习题")
    untouched = await env.practice(exam, "另一练习")
    candidate = await env.candidate(exam)
    async with env.tx() as db:
        for i in range(3):  # each one not ready by the end of its waiting (60 s), so the next start is a new attempt
            await sittings.start_practice(db, candidate=candidate, session_id=practice.id, now=env.now() + i * 60 * S)
    async with env.tx() as db:
        views = await sittings.sessions_for(db, candidate=candidate, now=env.now() + 120 * S)
    by_session = {v.session.id: v.sitting for v in views}
    assert set(by_session) == {formal.id, practice.id, untouched.id}
    assert by_session[untouched.id] is None
    assert by_session[practice.id] is not None and by_session[practice.id].sitting.attempt == 3
    assert by_session[formal.id] is not None and by_session[formal.id].state is SittingState.scheduled
    assert [v.session.kind for v in views][:2] == [SessionKind.practice, SessionKind.practice]  # practice first


async def test_sessions_for_an_unconfirmed_candidate_has_no_formal_sitting(env: Env) -> None:
    exam = await env.exam()
    await env.formal(exam, QUESTION)
    candidate = await env.candidate(exam, confirm=False)
    async with env.tx() as db:
        (view,) = await sittings.sessions_for(db, candidate=candidate, now=env.now())
    assert view.sitting is None


async def test_start_practice_numbers_attempts_and_draws_from_the_pool(env: Env) -> None:
    exam = await env.exam()
    practice = await env.practice(exam, "练习一", "练习二", "练习三", waiting=60, answer=120, upload=600)
    candidate, other = await env.candidate(exam), await env.candidate(exam)
    async with env.tx() as db:
        pool = {q.id for q in await questions_of(db, practice)}
        first, first_new = await sittings.start_practice(db, candidate=candidate, session_id=practice.id, now=env.now())
        again, again_new = await sittings.start_practice(db, candidate=candidate, session_id=practice.id, now=env.now() + S)
        theirs, _ = await sittings.start_practice(db, candidate=other, session_id=practice.id, now=env.now())
        # The first one was not ready when its waiting ended: it is over, and a start makes the second attempt.
        second, second_new = await sittings.start_practice(db, candidate=candidate, session_id=practice.id, now=env.now() + 60 * S)
    assert (first_new, again_new, second_new) == (True, False, True)
    assert again.sitting.id == first.sitting.id and again.windows == first.windows  # the same attempt, its own start
    assert (first.sitting.attempt, second.sitting.attempt, theirs.sitting.attempt) == (1, 2, 1)
    assert {first.sitting.question_id, second.sitting.question_id, theirs.sitting.question_id} <= pool
    # Its windows are the session's durations from its start: waiting at once.
    assert first.state is SittingState.waiting
    assert first.windows.waiting_opens_at == T0
    assert first.windows.answer_starts_at == T0 + 60 * S
    assert first.windows.upload_deadline == T0 + 780 * S
    assert second.windows.waiting_opens_at == T0 + 60 * S


# A practice attempt (waiting 60 s, answering 120 s, upload 600 s from T0) with these facts, started again at this
# instant: the same attempt while it is open, a new one once it ended.
_READY = {"ready_at": T0 + 10 * S}
_STOPPED = {**_READY, "recording_stopped_at": T0 + 90 * S}
START_AGAIN = [
    # (label, facts, seconds after T0, the state it is in, reused)
    ("waiting", {}, 59, SittingState.waiting, True),
    ("ready", _READY, 59, SittingState.ready, True),
    ("answering", _READY, 60, SittingState.answering, True),
    ("recorded, uploading", _STOPPED, 779, SittingState.recorded, True),
    ("not ready when its waiting ended", {}, 60, SittingState.incomplete, False),
    ("its upload window closed", _STOPPED, 780, SittingState.incomplete, False),
    ("uploaded", {**_STOPPED, "uploaded_at": T0 + 100 * S}, 100, SittingState.uploaded, False),
    ("terminated while waiting", {"terminated_at": T0 + 5 * S}, 5, SittingState.terminated, False),
    ("terminated while answering", {**_READY, "terminated_at": T0 + 70 * S}, 70, SittingState.terminated, False),
]


@pytest.mark.parametrize(("label", "facts", "after", "state", "reused"), START_AGAIN, ids=[c[0] for c in START_AGAIN])
async def test_start_practice_again_reuses_the_open_attempt_until_it_ends(
    env: Env, label: str, facts: dict, after: int, state: SittingState, reused: bool
) -> None:
    exam = await env.exam()
    practice = await env.practice(exam, "练习一", waiting=60, answer=120, upload=600)
    candidate = await env.candidate(exam)
    async with env.tx() as db:
        first, _ = await sittings.start_practice(db, candidate=candidate, session_id=practice.id, now=T0)
    await env.set_facts(first.sitting.id, **facts)
    async with env.tx() as db:
        assert (await sittings.load(db, sitting_id=first.sitting.id, now=T0 + after * S)).state is state
        view, created = await sittings.start_practice(db, candidate=candidate, session_id=practice.id, now=T0 + after * S)
    assert created is not reused
    assert (view.sitting.id == first.sitting.id) is reused
    assert view.sitting.attempt == (1 if reused else 2)
    if not reused:
        assert view.state is SittingState.waiting and view.windows.waiting_opens_at == T0 + after * S


async def test_start_practice_with_an_empty_pool_draws_nothing(env: Env) -> None:
    exam = await env.exam()
    practice = await env.practice(exam)
    candidate = await env.candidate(exam)
    async with env.tx() as db:
        view, _ = await sittings.start_practice(db, candidate=candidate, session_id=practice.id, now=env.now())
    assert view.sitting.question_id is None


async def test_start_practice_refuses_timed_sessions_and_other_exams(env: Env) -> None:
    exam, elsewhere = await env.exam(), await env.exam(title="另一考试")
    formal = await env.formal(exam, QUESTION)
    mock = await env.formal(exam, QUESTION, kind=SessionKind.mock, opens=DEADLINE, starts=DEADLINE + S, ends=DEADLINE + 2 * S, deadline=DEADLINE + 3 * S)
    their_practice = await env.practice(elsewhere, "练习")
    candidate = await env.candidate(exam)
    async with env.tx() as db:
        for session in (formal, mock):
            with pytest.raises(errors.NotPractice):
                await sittings.start_practice(db, candidate=candidate, session_id=session.id, now=env.now())
        for session_id in (their_practice.id, uuid.uuid4()):
            with pytest.raises(errors.SessionNotFound):
                await sittings.start_practice(db, candidate=candidate, session_id=session_id, now=env.now())


async def test_session_status_counts_every_state(env: Env) -> None:
    exam = await env.exam()
    session = await env.formal(exam, QUESTION)
    people = [await env.candidate(exam) for _ in range(4)]
    ids = [await env.sitting_id(c, session) for c in people]
    await env.set_facts(ids[0], ready_at=READY_AT)
    await env.set_facts(ids[1], ready_at=READY_AT, terminated_at=STARTS + S)
    await env.set_facts(ids[2], ready_at=READY_AT + S)
    async with env.tx() as db:
        before = await sittings.session_status(db, session=session, now=T0)
        during = await sittings.session_status(db, session=session, now=STARTS + 2 * S)
    assert before == {state: (4 if state is SittingState.scheduled else 0) for state in SittingState}
    expected = {SittingState.answering: 2, SittingState.terminated: 1, SittingState.absent: 1}
    assert during == {state: expected.get(state, 0) for state in SittingState}


async def test_session_id_of_and_exists(scene: Scene, env: Env) -> None:
    async with env.tx() as db:
        assert await sittings.session_id_of(db, sitting_id=scene.sitting_id) == scene.session.id
        await sittings.exists(db, sitting_id=scene.sitting_id)
        with pytest.raises(errors.SittingNotFound):
            await sittings.session_id_of(db, sitting_id=uuid.uuid4())
        with pytest.raises(errors.SittingNotFound):
            await sittings.exists(db, sitting_id=uuid.uuid4())
        rows = await sittings.session_sittings(db, session=scene.session, now=env.now())
    assert [(r.sitting.id, r.candidate.id, r.state) for r in rows] == [(scene.sitting_id, scene.candidate.id, SittingState.scheduled)]
    assert isinstance(rows[0].sitting, Sitting)
