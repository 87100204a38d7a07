"""A phone's own view of its sitting."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from app import errors
from app.api.deps import DB, DeviceUser, Now, SettingsDep, Store, Uploads
from app.api import pictures
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


@router.get(
    "/questions/{question_id}/image",
    response_class=Response,
    responses={
        **pictures.QUESTION_IMAGE_200,
        **errors.responses(errors.SittingNotFound, errors.QuestionNotRevealed, errors.SittingClosed, errors.QuestionNotFound),
    },
)
async def my_question_image(question_id: uuid.UUID, principal: DeviceUser, db: DB, now: Now, store: Store) -> Response:
    """A question's image, under the same reveal rule as its text (the main phone shows it with the question)."""
    assert principal.device is not None
    view = await sittings.load(db, sitting_id=principal.device.sitting_id, now=now)
    question = await questions.revealed_image(db, view=view, now=now, question_id=question_id)
    return await pictures.question_image(store, question)
