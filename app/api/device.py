"""A phone's own view of its sitting."""

from __future__ import annotations

from fastapi import APIRouter

from app import errors
from app.api.deps import DB, DeviceUser, Now, SettingsDep, Uploads
from app.schemas.candidates import DeviceSittingOut, QuestionsOut, SittingOut
from app.schemas.recordings import RecordingOut
from app.models import DeviceRole
from app.schemas.sessions import QuestionOut
from app.services.recordings import progress
from app.services.sitting import questions, sittings

router = APIRouter(prefix="/api/v1/device", tags=["device"])


@router.get("/sitting", response_model=DeviceSittingOut, responses=errors.responses(errors.SittingNotFound))
async def my_sitting(principal: DeviceUser, db: DB, now: Now, uploads: Uploads, settings: SettingsDep) -> DeviceSittingOut:
    """The sitting this phone is logged in for, with its state at server time (reloaded after a reconnect), the
    progress of both recordings and, for the main phone, the period of its in-exam stills."""
    assert principal.device is not None and principal.candidate is not None
    view = await sittings.load(db, sitting_id=principal.device.sitting_id, now=now)
    both = await progress.for_sitting(db, view.sitting.id, uploads=uploads)
    return DeviceSittingOut(
        **SittingOut.of(view, now).model_dump(),
        recordings=[RecordingOut.of(p, view.timezone) for p in both],
        live_still_seconds=settings.live_still_seconds if principal.device.role is DeviceRole.main else None,
    )


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
