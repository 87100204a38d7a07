"""Sessions (场次), their questions, and the sittings that bind confirmed candidates to them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.adapters.storage import ObjectStore
from app.models import Candidate, Exam, ExamSession, Question, SessionKind, Sitting
from app.services.audit import Actor, record
from app.services.scope import EVERY_EXAM, ExamScope
from app.services.images import sniff_image
from app.services.timezones import to_utc

TIME_FIELDS = ("waiting_opens_at", "answer_starts_at", "answer_ends_at", "upload_deadline")
DURATION_FIELDS = ("waiting_seconds", "answer_seconds", "upload_seconds")


async def get_session(
    db: AsyncSession, session_id: uuid.UUID, *, exam_id: uuid.UUID | None = None, scope: ExamScope = EVERY_EXAM
) -> ExamSession:
    query = select(ExamSession).where(ExamSession.id == session_id, scope.covers(ExamSession.exam_id))
    if exam_id is not None:
        query = query.where(ExamSession.exam_id == exam_id)
    session = await db.scalar(query)
    if session is None:
        raise errors.SessionNotFound()
    return session


async def list_sessions(db: AsyncSession, *, exam_id: uuid.UUID) -> list[ExamSession]:
    query = (
        select(ExamSession)
        .where(ExamSession.exam_id == exam_id)
        .order_by(ExamSession.kind != SessionKind.practice, ExamSession.waiting_opens_at, ExamSession.created_at)
    )
    return list((await db.scalars(query)).all())


def _check_shape(session: ExamSession) -> None:
    times = [getattr(session, f) for f in TIME_FIELDS]
    durations = [getattr(session, f) for f in DURATION_FIELDS]
    if session.kind is SessionKind.practice:
        if any(t is not None for t in times) or any(d is None for d in durations):
            raise errors.SessionKindFields()
        return
    if any(t is None for t in times) or any(d is not None for d in durations):
        raise errors.SessionKindFields()
    opens, starts, ends, deadline = times
    if not (opens < starts < ends <= deadline):
        raise errors.WindowOrder()


async def _check_overlap(db: AsyncSession, session: ExamSession) -> None:
    """Two timed sessions of one exam may not share any of [waiting opens, answer ends).

    Checked after the session's own write, under the exam's lock: of two sessions created or moved at once, the
    later sees the earlier (PostgreSQL queues them on the lock; on SQLite the write holds the write lock)."""
    await db.flush()
    if session.kind is SessionKind.practice:
        return
    await lock_exam(db, session.exam_id)
    query = select(ExamSession.id, ExamSession.title).where(
        ExamSession.exam_id == session.exam_id,
        ExamSession.kind != SessionKind.practice,
        ExamSession.waiting_opens_at < session.answer_ends_at,
        ExamSession.answer_ends_at > session.waiting_opens_at,
    )
    if session.id is not None:
        query = query.where(ExamSession.id != session.id)
    clash = (await db.execute(query)).first()
    if clash is not None:
        raise errors.SessionOverlap(details={"session_id": str(clash.id), "title": clash.title})


def _assign(session: ExamSession, fields: dict[str, Any], timezone: str) -> None:
    for name, value in fields.items():
        if name in TIME_FIELDS and value is not None:
            value = to_utc(value, timezone)
        setattr(session, name, value)


async def create_session(
    db: AsyncSession, *, exam: Exam, kind: SessionKind, fields: dict[str, Any], now: datetime, actor: Actor
) -> ExamSession:
    session = ExamSession(exam_id=exam.id, kind=kind, created_at=now)
    _assign(session, {name: fields.get(name) for name in (*TIME_FIELDS, *DURATION_FIELDS, "title")}, exam.timezone)
    _check_shape(session)
    db.add(session)
    await _check_overlap(db, session)
    await ensure_sittings(db, exam_id=exam.id, now=now)
    record(db, at=now, actor=actor, action="session.create", target_kind="session", target_id=session.id, details={"kind": kind.value, "title": session.title})
    return session


def _frozen(session: ExamSession, now: datetime) -> bool:
    """Timed sessions freeze once their waiting window opens: candidates may already be inside."""
    return session.kind is not SessionKind.practice and session.waiting_opens_at is not None and now >= session.waiting_opens_at


async def update_session(
    db: AsyncSession, *, exam: Exam, session: ExamSession, fields: dict[str, Any], now: datetime, actor: Actor
) -> ExamSession:
    if "kind" in fields and fields.pop("kind") is not session.kind:
        raise errors.SessionKindImmutable()
    was_frozen = _frozen(session, now)
    if was_frozen and set(fields) & {*TIME_FIELDS, *DURATION_FIELDS}:
        raise errors.SessionStarted()  # the title may still be corrected
    _assign(session, fields, exam.timezone)
    _check_shape(session)
    if not was_frozen and _frozen(session, now):  # nor may new times move the waiting window into the past
        raise errors.SessionStarted()
    await _check_overlap(db, session)
    record(db, at=now, actor=actor, action="session.update", target_kind="session", target_id=session.id, details={"fields": sorted(fields)})
    return session


async def lock_exam(db: AsyncSession, exam_id: uuid.UUID) -> None:
    """Queue this transaction behind any other holding the exam's row (PostgreSQL; SQLite renders no lock). FOR NO
    KEY UPDATE: inserts that refer to the exam (its sessions) are not blocked by it, only other holders."""
    await db.execute(select(Exam.id).where(Exam.id == exam_id).with_for_update(key_share=True))


async def ensure_sittings(db: AsyncSession, *, exam_id: uuid.UUID, now: datetime) -> int:
    """Create the missing sitting of every confirmed candidate in every timed session (idempotent).

    Callers write first (the new session, the confirmation), then this runs under the exam's row lock: of a
    confirmation and a new session at the same moment, the later one sees the other's commit, so the candidate
    gets the session's sitting from one of them, once. (SQLite needs no lock: the callers' write already holds its
    write lock, and these reads then see every commit.)"""
    await lock_exam(db, exam_id)
    sessions = (
        await db.scalars(select(ExamSession.id).where(ExamSession.exam_id == exam_id, ExamSession.kind != SessionKind.practice))
    ).all()
    candidates = (
        await db.scalars(select(Candidate.id).where(Candidate.exam_id == exam_id, Candidate.confirmed_at.is_not(None)))
    ).all()
    if not sessions or not candidates:
        return 0
    existing = set(
        (
            await db.execute(
                select(Sitting.candidate_id, Sitting.session_id).where(Sitting.session_id.in_(sessions), Sitting.attempt == 1)
            )
        ).all()
    )
    created = 0
    for session_id in sessions:
        for candidate_id in candidates:
            if (candidate_id, session_id) not in existing:
                db.add(Sitting(candidate_id=candidate_id, session_id=session_id, attempt=1, created_at=now))
                created += 1
    await db.flush()
    return created


# --- questions ---------------------------------------------------------------------------------------


async def list_questions(db: AsyncSession, *, session_id: uuid.UUID) -> list[Question]:
    query = select(Question).where(Question.session_id == session_id).order_by(Question.position)
    return list((await db.scalars(query)).all())


async def get_question(db: AsyncSession, *, session: ExamSession, question_id: uuid.UUID) -> Question:
    """A question of this session (one of another session is not found here)."""
    question = await db.get(Question, question_id)
    if question is None or question.session_id != session.id:
        raise errors.QuestionNotFound()
    return question


def with_image(questions: Iterable[Question], question_id: uuid.UUID) -> Question:
    """Of the questions a reader may see, the one asked for if it has an image: no image is no such question."""
    question = next((q for q in questions if q.id == question_id), None)
    if question is None or question.image_key is None:
        raise errors.QuestionNotFound()
    return question


async def question_with_image(db: AsyncSession, *, session: ExamSession, question_id: uuid.UUID) -> Question:
    return with_image([await get_question(db, session=session, question_id=question_id)], question_id)


async def add_question(
    db: AsyncSession, *, session: ExamSession, text: str, now: datetime, actor: Actor
) -> Question:
    if _frozen(session, now):
        raise errors.SessionStarted()
    # Questions added at once are numbered one after another, never twice the same (a unique key): PostgreSQL
    # queues them on the session's row; on SQLite the number is counted inside the insert, under its write lock.
    await db.execute(select(ExamSession.id).where(ExamSession.id == session.id).with_for_update(key_share=True))
    position = select(func.coalesce(func.max(Question.position), 0) + 1).where(Question.session_id == session.id).scalar_subquery()
    question = Question(session_id=session.id, position=position, text=text, created_at=now)
    db.add(question)
    await db.flush()
    await db.refresh(question, ["position"])
    record(db, at=now, actor=actor, action="question.create", target_kind="question", target_id=question.id, details={"session_id": str(session.id)})
    return question


async def set_question_text(
    db: AsyncSession, *, session: ExamSession, question: Question, text: str, now: datetime, actor: Actor
) -> Question:
    """Correct a question's text, until its session freezes (the same rule as adding one)."""
    if _frozen(session, now):
        raise errors.SessionStarted()
    question.text = text
    record(db, at=now, actor=actor, action="question.update", target_kind="question", target_id=question.id, details={"session_id": str(session.id)})
    return question


async def set_question_image(
    db: AsyncSession,
    *,
    session: ExamSession,
    question: Question,
    data: bytes,
    store: ObjectStore,
    now: datetime,
    actor: Actor,
) -> Question:
    if _frozen(session, now):
        raise errors.SessionStarted()
    content_type = sniff_image(data)
    key = f"questions/{session.id}/{question.id}"
    await store.put(key, data, content_type=content_type)
    question.image_key, question.image_type = key, content_type
    record(db, at=now, actor=actor, action="question.image.set", target_kind="question", target_id=question.id, details={"bytes": len(data)})
    return question
