"""A phone's own view of its sitting."""

from __future__ import annotations

from fastapi import APIRouter

from app import errors
from app.api.deps import DB, DeviceUser, Now
from app.schemas.candidates import QuestionsOut, SittingOut
from app.schemas.sessions import QuestionOut
from app.services import candidates, exams, sittings

router = APIRouter(prefix="/api/v1/device", tags=["device"])


@router.get("/sitting", response_model=SittingOut, responses=errors.responses(errors.SittingNotFound))
async def my_sitting(principal: DeviceUser, db: DB, now: Now) -> SittingOut:
    """The sitting this phone is logged in for, with its state at server time (reloaded after a reconnect)."""
    assert principal.device is not None and principal.candidate is not None
    view = await sittings.get_sitting_for_device(db, device=principal.device, now=now)
    exam = await exams.get_exam(db, principal.candidate.exam_id)
    return SittingOut.of(view, exam.timezone, now)


@router.get(
    "/questions",
    response_model=QuestionsOut,
    responses=errors.responses(errors.SittingNotFound, errors.QuestionNotRevealed, errors.SittingClosed),
)
async def my_questions(principal: DeviceUser, db: DB, now: Now) -> QuestionsOut:
    """The questions, only from answer start (server time)."""
    assert principal.device is not None
    view = await sittings.get_sitting_for_device(db, device=principal.device, now=now)
    revealed = await candidates.revealed_questions(db, view=view, now=now)
    return QuestionsOut(sitting_id=view.sitting.id, questions=[QuestionOut.of(q) for q in revealed])
