"""Ops: a session's grading plan (rubric, graders per sitting, tolerance), its graders, the assignment of sittings
to them, and a final score set by hand."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app import errors
from app.api.deps import DB, Now, Ops
from app.schemas.grading import AssignOut, GraderOut, GradingPlanIn, GradingPlanOut, ScoreOverrideIn, ScoreOverrideOut
from app.services.exam.assignments import get_staff
from app.services.exam.exams import get_exam
from app.services.grading import assignment, overrides, plan
from app.services.timezones import to_local

router = APIRouter(prefix="/api/v1/ops", tags=["ops: grading"])

_SESSION = (errors.SessionNotFound, errors.SessionNotGraded)


async def _timezone(db: DB, session_plan: plan.Plan) -> str:
    return (await get_exam(db, session_plan.session.exam_id)).timezone


@router.get("/sessions/{session_id}/grading", response_model=GradingPlanOut, responses=errors.responses(*_SESSION))
async def get_plan(session_id: uuid.UUID, principal: Ops, db: DB) -> GradingPlanOut:
    """The session's rubric, grading settings and graders."""
    found = await plan.get_plan(db, session_id)
    return GradingPlanOut.of(found, await plan.graders(db, session_id=session_id), await _timezone(db, found))


@router.put(
    "/sessions/{session_id}/grading", response_model=GradingPlanOut, responses=errors.responses(*_SESSION, errors.RubricInvalid, errors.RubricInUse)
)
async def set_plan(session_id: uuid.UUID, body: GradingPlanIn, principal: Ops, db: DB, now: Now) -> GradingPlanOut:
    """Set the rubric (its items may change until a score is submitted), graders per sitting and the tolerance."""
    assert principal.staff is not None
    found = await plan.set_plan(
        db, session_id=session_id, items=body.items_json(), graders_per_sitting=body.graders_per_sitting,
        tolerance=float(body.tolerance), now=now, actor=principal.actor, staff_id=principal.staff.id,
    )  # fmt: skip
    return GradingPlanOut.of(found, await plan.graders(db, session_id=session_id), await _timezone(db, found))


@router.put(
    "/sessions/{session_id}/graders/{staff_id}",
    response_model=GraderOut,
    responses=errors.responses(*_SESSION, errors.StaffNotFound, errors.GraderRoleRequired),
)
async def add_grader(session_id: uuid.UUID, staff_id: uuid.UUID, principal: Ops, db: DB, now: Now) -> GraderOut:
    """Give a grader this session to score; idempotent, audited."""
    assert principal.staff is not None
    staff = await get_staff(db, staff_id)
    grader = await plan.add_grader(db, session_id=session_id, staff=staff, now=now, actor=principal.actor, assigned_by=principal.staff.id)
    return GraderOut.of(grader, await _timezone(db, await plan.get_plan(db, session_id)))


@router.delete(
    "/sessions/{session_id}/graders/{staff_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors.responses(*_SESSION, errors.StaffNotFound, errors.GraderNotAssigned),
)
async def remove_grader(session_id: uuid.UUID, staff_id: uuid.UUID, principal: Ops, db: DB, now: Now) -> None:
    """Take the session from a grader: their open sheets go back to be assigned; submitted scores stay."""
    staff = await get_staff(db, staff_id)
    await plan.remove_grader(db, session_id=session_id, staff=staff, now=now, actor=principal.actor)


@router.post("/sessions/{session_id}/grading/assign", response_model=AssignOut, responses=errors.responses(*_SESSION, errors.RubricMissing))
async def assign(session_id: uuid.UUID, principal: Ops, db: DB, now: Now) -> AssignOut:
    """Give each sitting with both recordings its graders (balanced, never one twice), and an extra one where the
    first disagree; idempotent: run again after more recordings or graders arrive."""
    return AssignOut.of(await assignment.assign(db, session_id=session_id, now=now, actor=principal.actor))


@router.put(
    "/sittings/{sitting_id}/score",
    response_model=ScoreOverrideOut,
    responses=errors.responses(errors.SittingNotFound, *_SESSION, errors.RubricMissing, errors.ScoresInvalid, errors.ResultsPublished),
)
async def set_score(sitting_id: uuid.UUID, body: ScoreOverrideIn, principal: Ops, db: DB, now: Now) -> ScoreOverrideOut:
    """Set a sitting's final score by hand, with the reason (it replaces the graders' aggregate; audited)."""
    assert principal.staff is not None
    row, timezone = await overrides.set_score(db, sitting_id=sitting_id, score=float(body.score), reason=body.reason, now=now, actor=principal.actor, staff_id=principal.staff.id)
    return ScoreOverrideOut(sitting_id=row.sitting_id, score=row.score, reason=row.reason, set_at=to_local(row.set_at, timezone))  # type: ignore[arg-type]
