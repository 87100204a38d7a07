"""A phone's own view of its sitting."""

from __future__ import annotations

from fastapi import APIRouter

from app import errors
from app.api.deps import DB, DeviceUser, Now, Uploads
from app.schemas.candidates import DeviceSittingOut, QuestionsOut, SittingOut
from app.schemas.recordings import RecordingOut
from app.schemas.sessions import QuestionOut
from app.services.recordings import progress
from app.services.sitting import questions, sittings

router = APIRouter(prefix="/api/v1/device", tags=["device"])


@router.get("/sitting", response_model=DeviceSittingOut, responses=errors.responses(errors.SittingNotFound))
async def my_sitting(principal: DeviceUser, db: DB, now: Now, uploads: Uploads) -> DeviceSittingOut:
    """The sitting this phone is logged in for, with its state at server time (reloaded after a reconnect) and
    the progress of both recordings."""
    assert principal.device is not None and principal.candidate is not None
    view = await sittings.load(db, sitting_id=principal.device.sitting_id, now=now)
    both = await progress.for_sitting(db, view.sitting.id, uploads=uploads)
    return DeviceSittingOut(**SittingOut.of(view, now).model_dump(), recordings=[RecordingOut.of(p, view.timezone) for p in both])


@router.get(
    "/questions",
    response_model=QuestionsOut,
    responses=errors.responses(errors.SittingNotFound, errors.QuestionNotRevealed, errors.SittingClosed),
)
async def my_questions(principal: DeviceUser, db: DB, now: Now) -> QuestionsOut:
    """The questions, only from answer start (server time)."""
    assert principal.device is not None
    view = await sittings.load(db, sitting_id=principal.device.sitting_id, now=now)
    revealed = await questions.revealed_questions(db, view=view, now=now)
    return QuestionsOut(sitting_id=view.sitting.id, questions=[QuestionOut.of(q) for q in revealed])
