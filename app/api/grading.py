"""Graders: their queue of sittings to score, one sheet with the recordings, drafts and submission."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from app import errors
from app.api.deps import DB, GraderUser, Now, SettingsDep, Store
from app.api import pictures
from app.schemas.grading import QueueEntryOut, SavedOut, ScoresIn, SheetOut
from app.services.grading import sheets

router = APIRouter(prefix="/api/v1/grading", tags=["grading"])

_WRITE = (errors.GradeSheetNotFound, errors.GradeSheetSubmitted, errors.ResultsPublished, errors.ScoresInvalid)


@router.get("/queue", response_model=list[QueueEntryOut])
async def my_queue(principal: GraderUser, db: DB) -> list[QueueEntryOut]:
    """The sittings this grader scores, by anonymous code: open ones first."""
    assert principal.staff is not None
    return [QueueEntryOut.of(entry, entry.timezone) for entry in await sheets.queue(db, grader=principal.staff)]


@router.get("/sheets/{sheet_id}", response_model=SheetOut, responses=errors.responses(errors.GradeSheetNotFound))
async def open_sheet(sheet_id: uuid.UUID, principal: GraderUser, db: DB, now: Now, settings: SettingsDep) -> SheetOut:
    """One sitting to score: its code, the question, the rubric, both recordings (signed links) and this grader's
    scores so far; opening it is audited."""
    assert principal.staff is not None
    view = await sheets.open_sheet(
        db, sheet_id=sheet_id, grader=principal.staff, now=now, secret_key=settings.secret_key,
        link_ttl=settings.recording_link_timedelta, actor=principal.actor,
    )  # fmt: skip
    return SheetOut.of(view, view.entry.timezone)


@router.get(
    "/sheets/{sheet_id}/questions/{question_id}/image",
    response_class=Response,
    responses={
        **pictures.QUESTION_IMAGE_200,
        **errors.responses(errors.GradeSheetNotFound, errors.QuestionNotFound),
    },
)
async def question_image(sheet_id: uuid.UUID, question_id: uuid.UUID, principal: GraderUser, db: DB, store: Store) -> Response:
    """The image of one of the sheet's questions."""
    assert principal.staff is not None
    question = await sheets.question_image(db, sheet_id=sheet_id, grader=principal.staff, question_id=question_id)
    return await pictures.question_image(store, question)


@router.put("/sheets/{sheet_id}", response_model=SavedOut, responses=errors.responses(*_WRITE))
async def save_draft(sheet_id: uuid.UUID, body: ScoresIn, principal: GraderUser, db: DB, now: Now) -> SavedOut:
    """Save a draft (any of the items); it replaces the previous draft until the sheet is submitted."""
    assert principal.staff is not None
    entry = await sheets.save(db, sheet_id=sheet_id, grader=principal.staff, scores=body.scores, comment=body.comment, now=now, actor=principal.actor)
    return SavedOut.of(entry.sheet, entry.timezone)


@router.post("/sheets/{sheet_id}/submit", response_model=SavedOut, responses=errors.responses(*_WRITE, errors.ScoresIncomplete))
async def submit(sheet_id: uuid.UUID, body: ScoresIn, principal: GraderUser, db: DB, now: Now) -> SavedOut:
    """Submit every item's score: the sheet locks for good."""
    assert principal.staff is not None
    entry = await sheets.submit(db, sheet_id=sheet_id, grader=principal.staff, scores=body.scores, comment=body.comment, now=now, actor=principal.actor)
    return SavedOut.of(entry.sheet, entry.timezone)
