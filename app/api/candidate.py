"""The candidate's own view: profile, exam, notices, confirmation, sessions, practice, questions, devices."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Response, status

from app import errors
from app.api.deps import DB, CandidateUser, Now, SettingsDep, Store
from app.api import pictures
from app.models import Candidate
from app.schemas.candidates import (
    CandidateOut,
    CandidateSessionOut,
    ConfirmIn,
    DeviceLoginIn,
    DeviceLoginOut,
    QuestionsOut,
    SittingOut,
)
from app.schemas.exams import ExamOut, NoticeOut
from app.schemas.sessions import QuestionOut
from app.services.exam import candidates, exams
from app.services.sitting import devices, sittings
from app.services.sitting.questions import revealed_image, revealed_questions
from app.services.timezones import to_local

router = APIRouter(prefix="/api/v1/candidate", tags=["candidate"])

_CONFIRM_ERRORS = (
    errors.ConfirmationNotOpen,
    errors.ConfirmationClosed,
    errors.IdentityCategoryMismatch,
    errors.ProvinceMismatch,
    errors.RulesNotAccepted,
)


def _me(principal: CandidateUser) -> Candidate:
    assert principal.candidate is not None
    return principal.candidate


@router.get("/me", response_model=CandidateOut)
async def me(principal: CandidateUser, db: DB) -> CandidateOut:
    """The logged-in candidate."""
    candidate = _me(principal)
    exam = await exams.get_exam(db, candidate.exam_id)
    return CandidateOut.of(candidate, exam.timezone)


@router.get("/exam", response_model=ExamOut)
async def exam_info(principal: CandidateUser, db: DB) -> ExamOut:
    """The exam: organizer, confirmation window, support contacts and hours, conduct rules."""
    return ExamOut.of(await exams.get_exam(db, _me(principal).exam_id))


@router.get("/notices", response_model=list[NoticeOut])
async def notices(principal: CandidateUser, db: DB) -> list[NoticeOut]:
    """Notices of the candidate's exam, pinned first."""
    exam = await exams.get_exam(db, _me(principal).exam_id)
    return [NoticeOut.of(n, exam.timezone) for n in await exams.list_notices(db, exam_id=exam.id)]


@router.post("/confirmation", response_model=CandidateOut, responses=errors.responses(*_CONFIRM_ERRORS))
async def confirm(body: ConfirmIn, principal: CandidateUser, db: DB, now: Now) -> CandidateOut:
    """Confirm the exam (确认考试) inside its window, accepting its conduct rules (诚信承诺)."""
    candidate = _me(principal)
    exam = await exams.get_exam(db, candidate.exam_id)
    await candidates.confirm(
        db, candidate=candidate, exam=exam, identity_category=body.identity_category, province=body.province, accept_rules=body.accept_rules, now=now
    )
    return CandidateOut.of(candidate, exam.timezone)


@router.get("/sessions", response_model=list[CandidateSessionOut])
async def list_sessions(principal: CandidateUser, db: DB, now: Now) -> list[CandidateSessionOut]:
    """Sessions with their times in the exam's timezone and the candidate's sitting in each."""
    candidate = _me(principal)
    exam = await exams.get_exam(db, candidate.exam_id)
    views = await sittings.sessions_for(db, candidate=candidate, now=now)
    return [CandidateSessionOut.of(v, exam.timezone, now) for v in views]


@router.post(
    "/practice/{session_id}/attempts",
    response_model=SittingOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        status.HTTP_200_OK: {"model": SittingOut, "description": "The candidate's practice attempt already open: the same attempt again"},
        **errors.responses(errors.SessionNotFound, errors.NotPractice),
    },
)
async def start_practice(session_id: uuid.UUID, principal: CandidateUser, db: DB, now: Now, response: Response) -> SittingOut:
    """Start a practice attempt now (201), or answer the one still open (200): until it is uploaded, terminated or incomplete."""
    view, created = await sittings.start_practice(db, candidate=_me(principal), session_id=session_id, now=now)
    if not created:
        response.status_code = status.HTTP_200_OK
    return SittingOut.of(view, now)


@router.get("/sittings/{sitting_id}", response_model=SittingOut, responses=errors.responses(errors.SittingNotFound))
async def get_sitting(sitting_id: uuid.UUID, principal: CandidateUser, db: DB, now: Now) -> SittingOut:
    """One of the candidate's sittings with its state at server time."""
    view = await sittings.load(db, sitting_id=sitting_id, candidate_id=_me(principal).id, now=now)
    return SittingOut.of(view, now)


@router.get(
    "/sittings/{sitting_id}/questions",
    response_model=QuestionsOut,
    responses=errors.responses(errors.SittingNotFound, errors.QuestionNotRevealed, errors.SittingClosed),
)
async def questions(sitting_id: uuid.UUID, principal: CandidateUser, db: DB, now: Now) -> QuestionsOut:
    """The sitting's questions, only from its answer start (server time)."""
    view = await sittings.load(db, sitting_id=sitting_id, candidate_id=_me(principal).id, now=now)
    revealed = await revealed_questions(db, view=view, now=now)
    return QuestionsOut(sitting_id=view.sitting.id, questions=[QuestionOut.of(q) for q in revealed])


@router.get(
    "/sittings/{sitting_id}/questions/{question_id}/image",
    response_class=Response,
    responses={
        **pictures.QUESTION_IMAGE_200,
        **errors.responses(errors.SittingNotFound, errors.QuestionNotRevealed, errors.SittingClosed, errors.QuestionNotFound),
    },
)
async def question_image(sitting_id: uuid.UUID, question_id: uuid.UUID, principal: CandidateUser, db: DB, now: Now, store: Store) -> Response:
    """A question's image, under the same reveal rule as its text."""
    view = await sittings.load(db, sitting_id=sitting_id, candidate_id=_me(principal).id, now=now)
    question = await revealed_image(db, view=view, now=now, question_id=question_id)
    return await pictures.question_image(store, question)


@router.post(
    "/sittings/{sitting_id}/devices",
    response_model=DeviceLoginOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(errors.SittingNotFound, errors.SittingClosed, errors.DeviceLoginConflict),
)
async def login_device(
    sitting_id: uuid.UUID, body: DeviceLoginIn, principal: CandidateUser, db: DB, now: Now, settings: SettingsDep
) -> DeviceLoginOut:
    """Log this phone in as the main or aux camera of a sitting (a second phone of a role replaces the first)."""
    candidate = _me(principal)
    view = await sittings.load(db, sitting_id=sitting_id, candidate_id=candidate.id, now=now)
    login = await devices.login_device(
        db, candidate=candidate, view=view, role=body.role, now=now, ttl=timedelta(hours=settings.token_ttl_hours)
    )
    device, issued = login.device, login.issued
    return DeviceLoginOut(
        device_id=device.id, sitting_id=view.sitting.id, role=device.role, token=issued.token, expires_at=issued.expires_at,
        replaced_at=to_local(login.replaced_at, view.timezone), timezone=view.timezone,
    )
