"""Phase announcements: what the scheduler does at each window boundary.

The state of a sitting never depends on these (it is derived from facts and time); announcing only tells
the phones and records final decisions. Each announcement is keyed and stored once, so running late,
twice, after a restart or on two replicas gives the same result.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.services.sitting.channels import session_channel, sitting_channel
from app.models import ExamSession, PhaseAnnouncement, SessionKind, Sitting
from app.services.audit import SYSTEM, record
from app.services.sitting.lifecycle import SittingState, Windows, facts_of, sitting_state, windows_for
from app.services.exam.sessions import list_questions
from app.services.sitting.questions import drawn

# Practice windows are at most 3 × 24 h (schema limits); older attempts have nothing left to announce.
PRACTICE_SPAN = timedelta(days=3)
# Timed sessions are looked at until this long after their deadline (a scheduler down longer than that leaves
# their last announcements unrecorded; sitting states do not depend on them). Keeps each tick's scan small.
CATCH_UP = timedelta(days=30)


class Phase(str, enum.Enum):
    waiting_open = "waiting_open"
    answer_start = "answer_start"
    answer_end = "answer_end"
    upload_closed = "upload_closed"


def _boundaries(windows: Windows) -> list[tuple[Phase, datetime]]:
    return [
        (Phase.waiting_open, windows.waiting_opens_at),
        (Phase.answer_start, windows.answer_starts_at),
        (Phase.answer_end, windows.answer_ends_at),
        (Phase.upload_closed, windows.upload_deadline),
    ]


@dataclass(frozen=True, slots=True)
class Due:
    key: str
    phase: Phase
    at: datetime
    session_id: uuid.UUID
    sitting_id: uuid.UUID | None  # practice attempts are announced one by one


@dataclass(frozen=True, slots=True)
class Outbox:
    """Messages to publish once the announcement is committed."""

    messages: list[tuple[str, dict[str, Any]]]


async def find_due(db: AsyncSession, *, now: datetime) -> list[Due]:
    candidates: list[Due] = []
    timed = await db.scalars(
        select(ExamSession).where(
            ExamSession.kind != SessionKind.practice,
            ExamSession.waiting_opens_at <= now,
            ExamSession.upload_deadline > now - CATCH_UP,
        )
    )
    for session in timed:
        for phase, at in _boundaries(windows_for(session)):
            if at <= now:
                candidates.append(Due(f"session:{session.id}:{phase.value}", phase, at, session.id, None))
    practice = await db.execute(
        select(Sitting, ExamSession)
        .join(ExamSession, ExamSession.id == Sitting.session_id)
        .where(ExamSession.kind == SessionKind.practice, Sitting.started_at <= now, Sitting.started_at > now - PRACTICE_SPAN)
    )
    for sitting, session in practice:
        for phase, at in _boundaries(windows_for(session, sitting)):
            if at <= now:
                candidates.append(Due(f"sitting:{sitting.id}:{phase.value}", phase, at, session.id, sitting.id))
    if not candidates:
        return []
    done = set((await db.scalars(select(PhaseAnnouncement.key).where(PhaseAnnouncement.key.in_([d.key for d in candidates])))).all())
    return sorted((d for d in candidates if d.key not in done), key=lambda d: (d.at, d.key))


async def next_boundary(db: AsyncSession, *, after: datetime, within: timedelta) -> datetime | None:
    """The first boundary of a mock or formal session in (after, after + within]: the scheduler wakes for it on the
    dot, so a whole hall hears the answer start within the fan-out's time, not within a tick's."""
    sessions = await db.scalars(
        select(ExamSession).where(
            ExamSession.kind != SessionKind.practice, ExamSession.waiting_opens_at <= after + within, ExamSession.upload_deadline > after
        )
    )
    found = [at for session in sessions for _, at in _boundaries(windows_for(session)) if after < at <= after + within]
    return min(found, default=None)


async def announce(db: AsyncSession, *, due: Due, now: datetime, live_still_seconds: int) -> Outbox:
    """Record one announcement and its decisions. If another run got there first, the flush raises
    IntegrityError (unique key) and the caller's transaction is rolled back: nothing is decided twice.
    `live_still_seconds` goes out with the answer start: the main phone's period between in-exam stills."""
    db.add(PhaseAnnouncement(key=due.key, due_at=due.at, announced_at=now))
    await db.flush()
    session = await db.get_one(ExamSession, due.session_id)
    query = select(Sitting).where(Sitting.session_id == session.id)
    if due.sitting_id is not None:
        query = query.where(Sitting.id == due.sitting_id)
    sittings = list((await db.scalars(query)).all())
    message: dict[str, Any] = {"type": "phase", "phase": due.phase.value, "session_id": str(session.id), "at": due.at.isoformat()}
    decided: list[tuple[Sitting, SittingState]] = []
    if due.phase is Phase.answer_start:
        message["questions"] = await _questions(db, session, sittings)
        # Session-wide (one serialization for every phone); the aux phone takes no stills and ignores it.
        message["live_still_seconds"] = live_still_seconds
        # Not ready: absent from a mock or formal session; a practice attempt ends there, incomplete.
        decided = _decide(session, sittings, due.at, {SittingState.absent, SittingState.incomplete})
    elif due.phase is Phase.upload_closed:
        decided = _decide(session, sittings, due.at, {SittingState.incomplete})
    for sitting, state in decided:
        # The decision holds as of the boundary, however late it is recorded (the audit entry says when).
        sitting.outcome, sitting.outcome_at = state.value, due.at
        record(db, at=now, actor=SYSTEM, action=f"sitting.{state.value}", target_kind="sitting", target_id=sitting.id, details={"phase": due.phase.value})
    record(db, at=now, actor=SYSTEM, action="phase.announce", target_kind="sitting" if due.sitting_id else "session", target_id=due.sitting_id or session.id, details={"phase": due.phase.value, "due_at": due.at.isoformat(), "late_seconds": round((now - due.at).total_seconds(), 3)})
    await db.flush()
    if due.sitting_id is not None:
        message["sitting_id"] = str(due.sitting_id)
        messages = [(sitting_channel(due.sitting_id), message)]
    else:
        messages = [(session_channel(session.id), message)]
    messages += [(sitting_channel(s.id), {"type": "sitting.state", "sitting_id": str(s.id), "state": state.value}) for s, state in decided]
    return Outbox(messages)


def _decide(session: ExamSession, sittings: list[Sitting], at: datetime, finals: set[SittingState]) -> list[tuple[Sitting, SittingState]]:
    """Sittings whose state at the boundary instant is one of `finals` (judged at the boundary, not at a late `now`)."""
    judged = ((s, sitting_state(windows_for(session, s), facts_of(s), at)) for s in sittings if s.outcome is None)
    return [(s, state) for s, state in judged if state in finals]


async def _questions(db: AsyncSession, session: ExamSession, sittings: list[Sitting]) -> list[dict[str, Any]]:
    questions = drawn(session, await list_questions(db, session_id=session.id), sittings)
    return [{"id": str(q.id), "position": q.position, "text": q.text, "has_image": q.image_key is not None} for q in questions]
