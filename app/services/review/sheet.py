"""What the sitting review page shows beside the videos: the candidate and the question(s), the face checks with their
similarity, the claim, each flag's verdict, the incidents and every version of the decision."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Candidate, Decision, FaceCheck, FacePurpose, FlagVerdict, Incident, Question, StaffUser
from app.services.review import claims, decisions, marks
from app.services.review.claims import Holder
from app.services.scope import ExamScope
from app.services.exam.sessions import list_questions, with_image
from app.services.sitting import questions, sittings
from app.services.sitting.sittings import SittingView


@dataclass(frozen=True, slots=True)
class Sheet:
    view: SittingView
    candidate: Candidate
    questions: list[Question]
    face_checks: list[FaceCheck]
    claim: Holder | None
    verdicts: list[FlagVerdict]
    incidents: list[Incident]
    decisions: list[Decision]
    staff: dict[uuid.UUID, StaffUser]  # everyone the verdicts, incidents and decisions name

    @property
    def settled(self) -> bool:
        current = next((d for d in self.decisions if d.superseded_at is None), None)
        return decisions.is_settled(current)


async def _shown(db: AsyncSession, view: SittingView, now: datetime) -> list[Question]:
    """The questions only once answering is over for everyone: staff watching live never carry one to a candidate."""
    if now < view.windows.answer_ends_at:
        return []
    return questions.drawn(view.session, await list_questions(db, session_id=view.session.id), [view.sitting])


async def question_image(db: AsyncSession, *, sitting_id: uuid.UUID, question_id: uuid.UUID, now: datetime, scope: ExamScope) -> Question:
    """A question of the sheet that has an image, under the sheet's rule for its text."""
    view = await sittings.load(db, sitting_id=sitting_id, now=now, scope=scope)
    return with_image(await _shown(db, view, now), question_id)


async def sheet(db: AsyncSession, *, sitting_id: uuid.UUID, now: datetime, scope: ExamScope) -> Sheet:
    view = await sittings.load(db, sitting_id=sitting_id, now=now, scope=scope)
    candidate = await db.get_one(Candidate, view.sitting.candidate_id)
    shown = await _shown(db, view, now)
    checks = list(
        await db.scalars(
            select(FaceCheck)
            .where(FaceCheck.sitting_id == sitting_id, FaceCheck.purpose.in_([FacePurpose.waiting, FacePurpose.in_exam]))
            .order_by(FaceCheck.at)
        )
    )
    verdicts = sorted((await marks.verdicts(db, sitting_id=sitting_id)).values(), key=lambda v: v.at)
    incidents = await marks.incidents(db, sitting_ids=[sitting_id])
    versions = await decisions.history(db, sitting_id=sitting_id)
    named = {v.staff_id for v in verdicts} | {i.staff_id for i in incidents}
    for d in versions:
        named |= {x for x in (d.decided_by, d.second_by, d.reopened_by) if x is not None}
    staff = await staff_named(db, named)
    holder = (await claims.holders(db, sitting_ids=[sitting_id], now=now)).get(sitting_id)
    return Sheet(view, candidate, shown, checks, holder, verdicts, incidents, versions, staff)


async def staff_named(db: AsyncSession, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, StaffUser]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {s.id: s for s in await db.scalars(select(StaffUser).where(StaffUser.id.in_(wanted)))}
