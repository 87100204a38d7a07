"""exam/sessions: practice sessions take durations only, timed ones ordered times only; timed sessions of one exam do
not overlap; a timed session freezes once its waiting window opens; confirmed candidates get a sitting in every timed
session (idempotent); questions are numbered in order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app import errors
from app.models import ExamSession, SessionKind, Sitting
from app.services.exam import sessions
from tests.conftest import T0
from tests.services.conftest import DEADLINE, ENDS, OPENS, OPS, QUESTION, STARTS, Env, M, S

pytestmark = pytest.mark.anyio

TIMES = {"waiting_opens_at": OPENS, "answer_starts_at": STARTS, "answer_ends_at": ENDS, "upload_deadline": DEADLINE}
DURATIONS = {"waiting_seconds": 60, "answer_seconds": 120, "upload_seconds": 600}


async def create(env: Env, exam: Any, kind: SessionKind, **fields: Any) -> ExamSession:
    async with env.tx() as db:
        return await sessions.create_session(db, exam=exam, kind=kind, fields={"title": "场次", **fields}, now=env.now(), actor=OPS)


SHAPES = [
    ("formal with times", SessionKind.formal, TIMES, None),
    ("mock with times", SessionKind.mock, TIMES, None),
    ("practice with durations", SessionKind.practice, DURATIONS, None),
    ("answering ends at the deadline", SessionKind.formal, TIMES | {"upload_deadline": ENDS}, None),
    ("practice with times", SessionKind.practice, DURATIONS | {"waiting_opens_at": OPENS}, errors.SessionKindFields),
    ("practice missing a duration", SessionKind.practice, {"waiting_seconds": 60, "answer_seconds": 120}, errors.SessionKindFields),
    ("formal with a duration", SessionKind.formal, TIMES | {"answer_seconds": 60}, errors.SessionKindFields),
    ("formal missing a time", SessionKind.formal, {k: v for k, v in TIMES.items() if k != "upload_deadline"}, errors.SessionKindFields),
    ("waiting opens at the start", SessionKind.formal, TIMES | {"waiting_opens_at": STARTS}, errors.WindowOrder),
    ("answering ends at its start", SessionKind.formal, TIMES | {"answer_ends_at": STARTS}, errors.WindowOrder),
    ("deadline before the end", SessionKind.formal, TIMES | {"upload_deadline": ENDS - S}, errors.WindowOrder),
]


@pytest.mark.parametrize(("label", "kind", "fields", "error"), SHAPES, ids=[s[0] for s in SHAPES])
async def test_create_session_shapes(env: Env, label: str, kind: SessionKind, fields: dict[str, Any], error: type[errors.DualcamError] | None) -> None:
    exam = await env.exam()
    if error is None:
        made = await create(env, exam, kind, **fields)
        assert made.kind is kind
        return
    with pytest.raises(error):
        await create(env, exam, kind, **fields)
    async with env.tx() as db:
        assert await sessions.list_sessions(db, exam_id=exam.id) == []


async def test_times_without_offset_are_read_in_the_exams_zone(env: Env) -> None:
    exam = await env.exam(timezone="Asia/Shanghai")
    naive = {"waiting_opens_at": datetime(2026, 6, 1, 8, 50), "answer_starts_at": datetime(2026, 6, 1, 9, 0),
             "answer_ends_at": datetime(2026, 6, 1, 9, 10), "upload_deadline": datetime(2026, 6, 1, 12, 0)}  # fmt: skip
    made = await create(env, exam, SessionKind.formal, **naive)
    stored = await env.row(ExamSession, made.id)
    assert (stored.waiting_opens_at, stored.answer_starts_at, stored.upload_deadline) == (OPENS, STARTS, DEADLINE)
    assert stored.answer_starts_at == datetime(2026, 6, 1, 1, 0, tzinfo=UTC)


OVERLAPS = [
    ("the same times", timedelta(0), True),
    ("opening in the other's waiting window", 5 * M, True),
    ("answering ends as the other opens", -(ENDS - OPENS), False),
    ("opening as the other's answering ends", ENDS - OPENS, False),
    ("a second into the other's answering", ENDS - OPENS - S, True),
]


@pytest.mark.parametrize(("label", "shift", "clash"), OVERLAPS, ids=[o[0] for o in OVERLAPS])
async def test_timed_sessions_of_an_exam_do_not_overlap(env: Env, label: str, shift: timedelta, clash: bool) -> None:
    """[waiting opens, answer ends) of two timed sessions may not meet; the upload time may."""
    exam, other_exam = await env.exam(), await env.exam(title="另一考试")
    first = await create(env, exam, SessionKind.formal, **TIMES)
    moved = {k: v + shift for k, v in TIMES.items()}
    if clash:
        with pytest.raises(errors.SessionOverlap) as refused:
            await create(env, exam, SessionKind.mock, **moved)
        assert refused.value.details == {"session_id": str(first.id), "title": "场次"}
    else:
        await create(env, exam, SessionKind.mock, **moved)
    await create(env, other_exam, SessionKind.formal, **moved)  # another exam's sessions never clash
    await create(env, exam, SessionKind.practice, **DURATIONS)  # nor does practice


async def test_confirmed_candidates_get_a_sitting_in_every_new_timed_session(env: Env) -> None:
    exam = await env.exam()
    confirmed, unconfirmed = await env.candidate(exam), await env.candidate(exam, confirm=False)
    formal = await create(env, exam, SessionKind.formal, **TIMES)
    await create(env, exam, SessionKind.practice, **DURATIONS)
    async with env.tx() as db:
        rows = (await db.execute(select(Sitting.candidate_id, Sitting.session_id, Sitting.attempt))).all()
        assert [tuple(r) for r in rows] == [(confirmed.id, formal.id, 1)]
        assert await sessions.ensure_sittings(db, exam_id=exam.id, now=env.now()) == 0  # idempotent
        assert await db.scalar(select(func.count()).select_from(Sitting)) == 1
    assert unconfirmed.confirmed_at is None


async def test_list_sessions_practice_first_then_by_time(env: Env) -> None:
    exam = await env.exam()
    later = await create(env, exam, SessionKind.formal, **{k: v + timedelta(days=1) for k, v in TIMES.items()})
    earlier = await create(env, exam, SessionKind.mock, **TIMES)
    practice = await create(env, exam, SessionKind.practice, **DURATIONS)
    async with env.tx() as db:
        assert [s.id for s in await sessions.list_sessions(db, exam_id=exam.id)] == [practice.id, earlier.id, later.id]
        assert (await sessions.get_session(db, later.id, exam_id=exam.id)).id == later.id
        with pytest.raises(errors.SessionNotFound):
            await sessions.get_session(db, later.id, exam_id=uuid.uuid4())


async def update(env: Env, exam: Any, session: ExamSession, **fields: Any) -> ExamSession:
    async with env.tx() as db:
        loaded = await db.get_one(ExamSession, session.id)
        return await sessions.update_session(db, exam=exam, session=loaded, fields=fields, now=env.now(), actor=OPS)


async def test_a_timed_session_freezes_once_its_waiting_window_opens(env: Env) -> None:
    exam = await env.exam()
    session = await env.formal(exam, QUESTION)
    env.clock.set(OPENS - S)
    await update(env, exam, session, answer_ends_at=ENDS + M)  # still movable
    env.clock.set(OPENS)
    for field in ({"answer_ends_at": ENDS + 2 * M}, {"waiting_opens_at": OPENS + M}):
        with pytest.raises(errors.SessionStarted):
            await update(env, exam, session, **field)
    with pytest.raises(errors.SessionStarted):
        async with env.tx() as db:
            await sessions.add_question(db, session=session, text="迟到的题", now=env.now(), actor=OPS)
    renamed = await update(env, exam, session, title="更正后的标题")  # the title may still be corrected
    assert (renamed.title, renamed.answer_ends_at) == ("更正后的标题", ENDS + M)


async def test_new_times_may_not_move_the_waiting_window_into_the_past(env: Env) -> None:
    exam = await env.exam()
    session = await env.formal(exam, QUESTION)
    with pytest.raises(errors.SessionStarted):
        await update(env, exam, session, waiting_opens_at=T0 - M)
    assert (await env.row(ExamSession, session.id)).waiting_opens_at == OPENS


async def test_a_sessions_kind_cannot_change(env: Env) -> None:
    exam = await env.exam()
    session = await env.formal(exam, QUESTION)
    with pytest.raises(errors.SessionKindImmutable):
        await update(env, exam, session, kind=SessionKind.mock)
    await update(env, exam, session, kind=SessionKind.formal, title="同类型")


async def test_practice_sessions_never_freeze(env: Env) -> None:
    exam = await env.exam()
    practice = await env.practice(exam)
    env.clock.set(DEADLINE + timedelta(days=10))
    updated = await update(env, exam, practice, answer_seconds=300)
    assert updated.answer_seconds == 300


async def test_questions_are_numbered_in_order(env: Env) -> None:
    exam = await env.exam()
    session = await env.formal(exam, "一", "二", "三")
    async with env.tx() as db:
        listed = await sessions.list_questions(db, session_id=session.id)
        assert [(q.position, q.text) for q in listed] == [(1, "一"), (2, "二"), (3, "三")]
        assert (await sessions.get_question(db, session=session, question_id=listed[1].id)).text == "二"
        with pytest.raises(errors.QuestionNotFound):
            await sessions.get_question(db, session=session, question_id=uuid.uuid4())
    other = await env.formal(await env.exam(), "另一场")
    async with env.tx() as db:
        with pytest.raises(errors.QuestionNotFound):  # a question of another session
            await sessions.get_question(db, session=other, question_id=listed[1].id)


async def test_a_question_image_must_be_a_jpeg_or_png(env: Env) -> None:
    exam = await env.exam()
    session = await env.formal(exam, QUESTION)
    store = env.app.state.store
    async with env.tx() as db:
        (question,) = await sessions.list_questions(db, session_id=session.id)
        with pytest.raises(errors.BadImage):
            await sessions.set_question_image(db, session=session, question=question, data=b"GIF89a....", store=store, now=env.now(), actor=OPS)
        png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
        await sessions.set_question_image(db, session=session, question=question, data=png, store=store, now=env.now(), actor=OPS)
    assert (question.image_key, question.image_type) == (f"questions/{session.id}/{question.id}", "image/png")
