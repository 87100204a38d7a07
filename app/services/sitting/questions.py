"""Question confidentiality: which questions a sitting may see, and from when. Every candidate- or device-facing
read and the answer-start push go through these two functions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import ExamSession, Question, SessionKind, Sitting
from app.services.exam.sessions import list_questions, with_image
from app.services.sitting.lifecycle import SittingState
from app.services.sitting.sittings import SittingView


def refusal(view: SittingView, at: datetime) -> errors.DualcamError | None:
    """Why the sitting may not see its questions at `at` (None: it may). Never before the answer start (server
    time); never for a sitting that did not begin answering — absent, or terminated in the waiting room — however
    late it asks."""
    starts = view.windows.answer_starts_at
    if at < starts:
        return errors.QuestionNotRevealed(details={"answer_starts_at": starts.isoformat()})
    if view.at(starts).state is not SittingState.answering:
        return errors.SittingClosed()
    return None


def drawn(session: ExamSession, questions: Iterable[Question], sittings: Iterable[Sitting]) -> list[Question]:
    """Of a session's questions, those these sittings see: a practice attempt sees only the question drawn for it."""
    if session.kind is not SessionKind.practice:
        return list(questions)
    chosen = {s.question_id for s in sittings}
    return [q for q in questions if q.id in chosen]


async def revealed_questions(db: AsyncSession, *, view: SittingView, now: datetime) -> list[Question]:
    """The sitting's questions, or the refusal."""
    refused = refusal(view, now)
    if refused is not None:
        raise refused
    return drawn(view.session, await list_questions(db, session_id=view.session.id), [view.sitting])


async def revealed_image(db: AsyncSession, *, view: SittingView, now: datetime, question_id: uuid.UUID) -> Question:
    """A revealed question of the sitting that has an image, under the same rule as its text."""
    return with_image(await revealed_questions(db, view=view, now=now), question_id)
