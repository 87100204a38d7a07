"""A sitting as every rule reads it: its row, session, exam, windows and derived state, loaded in one query; the
candidate's own list of sittings and practice attempts; the ops views of a session's sittings."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import Candidate, Exam, ExamSession, SessionKind, Sitting
from app.services.exam.sessions import list_questions, list_sessions
from app.services.scope import EVERY_EXAM, ExamScope
from app.services.sitting.lifecycle import FINAL_STATES, SittingState, Windows, facts_of, missed_start, sitting_state, state_of, windows_for


@dataclass(frozen=True, slots=True)
class SittingView:
    sitting: Sitting
    session: ExamSession
    exam: Exam
    windows: Windows
    state: SittingState

    def at(self, moment: datetime) -> SittingView:
        """The same sitting judged at another instant (a boundary, or when its last byte arrived)."""
        return SittingView(self.sitting, self.session, self.exam, self.windows, sitting_state(self.windows, facts_of(self.sitting), moment))

    @property
    def timezone(self) -> str:
        return self.exam.timezone

    def missed_start(self, now: datetime) -> bool:
        return missed_start(self.windows, facts_of(self.sitting), now)


def view_of(session: ExamSession, sitting: Sitting, exam: Exam, now: datetime) -> SittingView:
    return SittingView(sitting, session, exam, windows_for(session, sitting), state_of(session, sitting, now))


async def load(
    db: AsyncSession,
    *,
    sitting_id: uuid.UUID,
    now: datetime,
    candidate_id: uuid.UUID | None = None,
    scope: ExamScope = EVERY_EXAM,
    lock: bool = False,
) -> SittingView:
    """The one loader of a sitting with its facts. `candidate_id` and `scope` (a staff member's exams) scope it in the
    query (another candidate's sitting is simply not found); `lock` makes it the one writer of the sitting (PostgreSQL)."""
    query = (
        select(Sitting, ExamSession, Exam)
        .join(ExamSession, ExamSession.id == Sitting.session_id)
        .join(Exam, Exam.id == ExamSession.exam_id)
        .where(Sitting.id == sitting_id, scope.covers(Exam.id))
    )
    if candidate_id is not None:
        query = query.where(Sitting.candidate_id == candidate_id)
    if lock:
        query = query.with_for_update(of=Sitting)
    row = (await db.execute(query)).first()
    if row is None:
        raise errors.SittingNotFound()
    return view_of(row.ExamSession, row.Sitting, row.Exam, now)


async def session_id_of(db: AsyncSession, *, sitting_id: uuid.UUID) -> uuid.UUID:
    found = await db.scalar(select(Sitting.session_id).where(Sitting.id == sitting_id))
    if found is None:
        raise errors.SittingNotFound()
    return found


async def exists(db: AsyncSession, *, sitting_id: uuid.UUID, scope: ExamScope = EVERY_EXAM) -> None:
    query = select(Sitting.id).join(ExamSession, ExamSession.id == Sitting.session_id).where(Sitting.id == sitting_id, scope.covers(ExamSession.exam_id))
    if await db.scalar(query) is None:
        raise errors.SittingNotFound()


# --- the candidate's sittings ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionView:
    session: ExamSession
    sitting: SittingView | None


async def sessions_for(db: AsyncSession, *, candidate: Candidate, now: datetime) -> list[SessionView]:
    """Every session of the candidate's exam with the candidate's sitting in it (latest attempt for practice)."""
    exam = await db.get_one(Exam, candidate.exam_id)
    rows = (await db.scalars(select(Sitting).where(Sitting.candidate_id == candidate.id).order_by(Sitting.attempt))).all()
    latest = {s.session_id: s for s in rows}  # ordered by attempt: the last one wins
    views = []
    for session in await list_sessions(db, exam_id=candidate.exam_id):
        sitting = latest.get(session.id)
        views.append(SessionView(session, view_of(session, sitting, exam, now) if sitting else None))
    return views


async def start_practice(db: AsyncSession, *, candidate: Candidate, session_id: uuid.UUID, now: datetime) -> tuple[SittingView, bool]:
    """The candidate's open practice attempt, or a new one with a question drawn from the practice pool; True when
    it is new.

    One open attempt per candidate and practice session: the main phone's button pressed twice, or the practice
    opened on a second phone, must land in the attempt already waiting for its phones (a second attempt would leave
    the first to run out unfinished). An attempt is open until its state is final — uploaded, terminated, or
    incomplete: not ready when its waiting ended, or its upload window closed — and from then on a start makes the
    next attempt (practice is unlimited)."""
    session = await db.scalar(select(ExamSession).where(ExamSession.id == session_id, ExamSession.exam_id == candidate.exam_id))
    if session is None:
        raise errors.SessionNotFound()
    if session.kind is not SessionKind.practice:
        raise errors.NotPractice()
    exam = await db.get_one(Exam, candidate.exam_id)
    # Starts sent at once (two phones, a double tap) are decided one after another: a write to the candidate's row
    # comes before the look for an open attempt, so PostgreSQL queues them on the row's lock and SQLite on its write
    # lock (a read first would not queue them there), and each then sees the attempt the one before it made. The
    # write leaves the row as it was (the name set to itself: no key, so no foreign-key work on either database).
    await db.execute(update(Candidate).where(Candidate.id == candidate.id).values(name=Candidate.name).execution_options(synchronize_session=False))
    assert session.waiting_seconds is not None and session.answer_seconds is not None and session.upload_seconds is not None
    span = timedelta(seconds=session.waiting_seconds + session.answer_seconds + session.upload_seconds)
    recent = await db.scalars(
        select(Sitting)
        .where(Sitting.candidate_id == candidate.id, Sitting.session_id == session.id, Sitting.started_at > now - span)
        .order_by(Sitting.attempt.desc())
    )
    for sitting in recent:
        view = view_of(session, sitting, exam, now)
        if view.state not in FINAL_STATES:
            return view, False
    pool = await list_questions(db, session_id=session.id)
    # Numbered after the highest attempt so far (a unique key), counted inside the insert.
    next_attempt = (
        select(func.coalesce(func.max(Sitting.attempt), 0) + 1)
        .where(Sitting.candidate_id == candidate.id, Sitting.session_id == session.id)
        .scalar_subquery()
    )
    sitting = Sitting(
        candidate_id=candidate.id,
        session_id=session.id,
        attempt=next_attempt,
        started_at=now,
        question_id=random.choice(pool).id if pool else None,
        created_at=now,
    )
    db.add(sitting)
    await db.flush()
    await db.refresh(sitting, ["attempt"])
    return view_of(session, sitting, exam, now), True


# --- ops views -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SittingRow:
    sitting: Sitting
    candidate: Candidate
    state: SittingState


async def session_sittings(db: AsyncSession, *, session: ExamSession, now: datetime) -> list[SittingRow]:
    rows = await db.execute(
        select(Sitting, Candidate)
        .join(Candidate, Candidate.id == Sitting.candidate_id)
        .where(Sitting.session_id == session.id)
        .order_by(Candidate.name, Sitting.attempt)
    )
    return [SittingRow(r.Sitting, r.Candidate, state_of(session, r.Sitting, now)) for r in rows]


async def session_status(db: AsyncSession, *, session: ExamSession, now: datetime) -> dict[SittingState, int]:
    counts = Counter(row.state for row in await session_sittings(db, session=session, now=now))
    return {state: counts.get(state, 0) for state in SittingState}
