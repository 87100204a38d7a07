"""Ops: sessions, questions, and the live status of a session."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response, UploadFile, status

from app import errors
from app.api import pictures
from app.api.deps import DB, Now, Ops, Scope, SettingsDep, Staff, Store, Uploads
from app.models import DeviceRole
from app.schemas.dashboard import DashboardOut
from app.schemas.recordings import RecordingCounts, RecordingOut
from app.schemas.sessions import (
    OpsSittingOut,
    QuestionCreate,
    QuestionOut,
    SessionCreate,
    SessionOut,
    SessionStatusOut,
    SessionUpdate,
)
from app.services import dashboard
from app.services.exam import exams, sessions
from app.services.recordings import progress
from app.services.sitting import sittings
from app.services.sitting.lifecycle import SittingState
from app.services.images import MAX_IMAGE_BYTES
from app.services.timezones import to_local

router = APIRouter(prefix="/api/v1/ops", tags=["ops: sessions"])

_SESSION_WRITE_ERRORS = (errors.WindowOrder, errors.SessionKindFields, errors.SessionOverlap)


@router.post(
    "/exams/{exam_id}/sessions",
    response_model=SessionOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(errors.ExamNotFound, *_SESSION_WRITE_ERRORS),
)
async def create_session(exam_id: uuid.UUID, body: SessionCreate, principal: Ops, db: DB, now: Now) -> SessionOut:
    """Add a practice, mock or formal session; times without an offset are in the exam's timezone."""
    exam = await exams.get_exam(db, exam_id)
    session = await sessions.create_session(db, exam=exam, kind=body.kind, fields=body.model_dump(exclude={"kind"}), now=now, actor=principal.actor)
    return SessionOut.of(session, exam.timezone)


@router.get("/exams/{exam_id}/sessions", response_model=list[SessionOut], responses=errors.responses(errors.ExamNotFound))
async def list_sessions(exam_id: uuid.UUID, principal: Staff, scope: Scope, db: DB) -> list[SessionOut]:
    """Sessions of an exam: practice first, then by time."""
    exam = await exams.get_exam(db, exam_id, scope=scope)
    return [SessionOut.of(s, exam.timezone) for s in await sessions.list_sessions(db, exam_id=exam.id)]


@router.get("/sessions/{session_id}", response_model=SessionOut, responses=errors.responses(errors.SessionNotFound))
async def get_session(session_id: uuid.UUID, principal: Staff, scope: Scope, db: DB) -> SessionOut:
    """One session."""
    session = await sessions.get_session(db, session_id, scope=scope)
    exam = await exams.get_exam(db, session.exam_id, scope=scope)
    return SessionOut.of(session, exam.timezone)


@router.patch(
    "/sessions/{session_id}",
    response_model=SessionOut,
    responses=errors.responses(errors.SessionNotFound, errors.SessionStarted, *_SESSION_WRITE_ERRORS),
)
async def update_session(session_id: uuid.UUID, body: SessionUpdate, principal: Ops, db: DB, now: Now) -> SessionOut:
    """Change a session before its waiting window opens."""
    session = await sessions.get_session(db, session_id)
    exam = await exams.get_exam(db, session.exam_id)
    session = await sessions.update_session(db, exam=exam, session=session, fields=body.model_dump(exclude_unset=True), now=now, actor=principal.actor)
    return SessionOut.of(session, exam.timezone)


@router.post(
    "/sessions/{session_id}/questions",
    response_model=QuestionOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(errors.SessionNotFound, errors.SessionStarted),
)
async def add_question(session_id: uuid.UUID, body: QuestionCreate, principal: Ops, db: DB, now: Now) -> QuestionOut:
    """Add a question (for practice sessions: to the practice pool)."""
    session = await sessions.get_session(db, session_id)
    return QuestionOut.of(await sessions.add_question(db, session=session, text=body.text, now=now, actor=principal.actor))


@router.get("/sessions/{session_id}/questions", response_model=list[QuestionOut], responses=errors.responses(errors.SessionNotFound))
async def list_questions(session_id: uuid.UUID, principal: Ops, db: DB) -> list[QuestionOut]:
    """Questions of a session (ops only: reviewers and candidates never read them here)."""
    session = await sessions.get_session(db, session_id)
    return [QuestionOut.of(q) for q in await sessions.list_questions(db, session_id=session.id)]


@router.patch(
    "/sessions/{session_id}/questions/{question_id}",
    response_model=QuestionOut,
    responses=errors.responses(errors.SessionNotFound, errors.QuestionNotFound, errors.SessionStarted),
)
async def update_question(session_id: uuid.UUID, question_id: uuid.UUID, body: QuestionCreate, principal: Ops, db: DB, now: Now) -> QuestionOut:
    """Correct a question's text, until the waiting window opens (timed sessions)."""
    session = await sessions.get_session(db, session_id)
    question = await sessions.get_question(db, session=session, question_id=question_id)
    return QuestionOut.of(await sessions.set_question_text(db, session=session, question=question, text=body.text, now=now, actor=principal.actor))


@router.get(
    "/sessions/{session_id}/questions/{question_id}/image",
    response_class=Response,
    responses={**pictures.QUESTION_IMAGE_200, **errors.responses(errors.SessionNotFound, errors.QuestionNotFound)},
)
async def question_image(session_id: uuid.UUID, question_id: uuid.UUID, principal: Ops, db: DB, store: Store) -> Response:
    """A question's image, to check what was attached (ops only, as the questions here)."""
    session = await sessions.get_session(db, session_id)
    return await pictures.question_image(store, await sessions.question_with_image(db, session=session, question_id=question_id))


@router.put(
    "/sessions/{session_id}/questions/{question_id}/image",
    response_model=QuestionOut,
    responses=errors.responses(errors.SessionNotFound, errors.QuestionNotFound, errors.SessionStarted, errors.BadImage, errors.PayloadTooLarge),
)
async def set_question_image(
    session_id: uuid.UUID, question_id: uuid.UUID, image: UploadFile, principal: Ops, db: DB, now: Now, store: Store
) -> QuestionOut:
    """Attach an image (JPEG or PNG, at most 10 MB) to a question."""
    session = await sessions.get_session(db, session_id)
    question = await sessions.get_question(db, session=session, question_id=question_id)
    data = await image.read(MAX_IMAGE_BYTES + 1)
    question = await sessions.set_question_image(db, session=session, question=question, data=data, store=store, now=now, actor=principal.actor)
    return QuestionOut.of(question)


@router.get("/sessions/{session_id}/status", response_model=SessionStatusOut, responses=errors.responses(errors.SessionNotFound))
async def session_status(session_id: uuid.UUID, principal: Staff, scope: Scope, db: DB, now: Now) -> SessionStatusOut:
    """Live view: how many sittings are in each state right now (server time)."""
    session = await sessions.get_session(db, session_id, scope=scope)
    exam = await exams.get_exam(db, session.exam_id, scope=scope)
    counts = await sittings.session_status(db, session=session, now=now)
    by_role = await progress.session_counts(db, session_id=session.id)
    return SessionStatusOut(
        session_id=session.id,
        now=to_local(now, exam.timezone),
        total=sum(counts.values()),
        counts=counts,
        recordings=RecordingCounts(main=by_role[DeviceRole.main], aux=by_role[DeviceRole.aux]),
    )


@router.get("/sessions/{session_id}/dashboard", response_model=DashboardOut, responses=errors.responses(errors.SessionNotFound))
async def session_dashboard(
    session_id: uuid.UUID,
    principal: Staff,
    scope: Scope,
    db: DB,
    now: Now,
    uploads: Uploads,
    settings: SettingsDep,
    search: Annotated[str | None, Query(max_length=100, description="a name, phone number, the ID number's last 4 digits, or an id's start")] = None,
    state: SittingState | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DashboardOut:
    """The live dashboard: counts per state of every sitting, and a page of the sittings that match, each with
    both phones (online, bytes in), the face gate, live flags and the last event. `/api/v1/ops/sessions/{id}/live`
    (WebSocket) says when to fetch it again."""
    session = await sessions.get_session(db, session_id, scope=scope)
    exam = await exams.get_exam(db, session.exam_id, scope=scope)
    query = dashboard.DashboardQuery(search=search, state=state, offset=offset, limit=limit)
    board = await dashboard.dashboard(db, session=session, now=now, uploads=uploads, presence_timeout=timedelta(seconds=settings.presence_timeout_seconds), query=query)
    return DashboardOut.of(session.id, board, now=now, timezone=exam.timezone, offset=offset, limit=limit)


@router.get("/sessions/{session_id}/sittings", response_model=list[OpsSittingOut], responses=errors.responses(errors.SessionNotFound))
async def session_sittings(session_id: uuid.UUID, principal: Staff, scope: Scope, db: DB, now: Now, uploads: Uploads) -> list[OpsSittingOut]:
    """Every sitting of a session with its state, facts and the progress of both recordings."""
    session = await sessions.get_session(db, session_id, scope=scope)
    exam = await exams.get_exam(db, session.exam_id, scope=scope)
    tz = exam.timezone
    rows = await sittings.session_sittings(db, session=session, now=now)
    arrived = await progress.progress(db, [r.sitting.id for r in rows], uploads=uploads)
    return [
        OpsSittingOut(
            sitting_id=r.sitting.id,
            candidate_id=r.candidate.id,
            name=r.candidate.name,
            id_number_masked=r.candidate.id_number_masked,
            attempt=r.sitting.attempt,
            state=r.state,
            face_passed_at=to_local(r.sitting.face_passed_at, tz),
            ready_at=to_local(r.sitting.ready_at, tz),
            recording_stopped_at=to_local(r.sitting.recording_stopped_at, tz),
            terminated_at=to_local(r.sitting.terminated_at, tz),
            terminated_reason=r.sitting.terminated_reason,
            uploaded_at=to_local(r.sitting.uploaded_at, tz),
            recordings=[RecordingOut.of(p, tz) for p in arrived[r.sitting.id]],
        )
        for r in rows
    ]
