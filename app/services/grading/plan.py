"""A session's grading plan (rubric, graders per sitting, tolerance) and the graders ops give it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import ExamSession, GradeSheet, GradingPlan, SessionGrader, SessionKind, StaffRole, StaffUser
from app.services.audit import Actor, record
from app.services.exam.sessions import get_session
from app.services.grading import rubric as rubrics

DEFAULT_GRADERS = 3
DEFAULT_TOLERANCE = 0.2


@dataclass(frozen=True, slots=True)
class Plan:
    session: ExamSession
    rubric: rubrics.Rubric | None  # None: not set yet
    graders_per_sitting: int
    tolerance: float
    updated_at: datetime | None

    def require_rubric(self) -> rubrics.Rubric:
        if self.rubric is None:
            raise errors.RubricMissing()
        return self.rubric

    @property
    def tolerance_points(self) -> Decimal | None:
        return None if self.rubric is None else rubrics.points(self.tolerance) * self.rubric.maximum


async def graded_session(db: AsyncSession, session_id: uuid.UUID) -> ExamSession:
    session = await get_session(db, session_id)
    if session.kind is SessionKind.practice:
        raise errors.SessionNotGraded()
    return session


def _plan(session: ExamSession, row: GradingPlan | None) -> Plan:
    if row is None:
        return Plan(session, None, DEFAULT_GRADERS, DEFAULT_TOLERANCE, None)
    return Plan(session, rubrics.parse(row.rubric), row.graders_per_sitting, row.tolerance, row.updated_at)


async def get_plan(db: AsyncSession, session_id: uuid.UUID) -> Plan:
    session = await graded_session(db, session_id)
    return _plan(session, await db.get(GradingPlan, session_id))


async def set_plan(
    db: AsyncSession,
    *,
    session_id: uuid.UUID,
    items: Sequence[Mapping[str, Any]],
    graders_per_sitting: int,
    tolerance: float,
    now: datetime,
    actor: Actor,
    staff_id: uuid.UUID | None,
) -> Plan:
    """Set the rubric and the grading settings. The items may change only until a grader submits a score against
    them; graders per sitting and the tolerance apply to what is assigned and aggregated from then on."""
    session = await graded_session(db, session_id)
    parsed = rubrics.parse(items)
    row = await db.get(GradingPlan, session_id)
    submitted = await db.scalar(select(exists().where(GradeSheet.session_id == session_id, GradeSheet.submitted_at.is_not(None))))
    if row is not None and submitted and row.rubric != parsed.to_json():
        raise errors.RubricInUse()
    if row is None:
        row = GradingPlan(session_id=session_id, updated_at=now)
        db.add(row)
    row.rubric, row.graders_per_sitting, row.tolerance = parsed.to_json(), graders_per_sitting, tolerance
    row.updated_at, row.updated_by = now, staff_id
    await db.flush()
    record(db, at=now, actor=actor, action="grading.plan.set", target_kind="session", target_id=session_id, details={
        "items": [item.key for item in parsed.items], "maximum": float(parsed.maximum),
        "graders_per_sitting": graders_per_sitting, "tolerance": tolerance,
    })  # fmt: skip
    return _plan(session, row)


@dataclass(frozen=True, slots=True)
class Grader:
    staff: StaffUser
    code: str
    assigned_at: datetime


async def graders(db: AsyncSession, *, session_id: uuid.UUID) -> list[Grader]:
    await graded_session(db, session_id)
    rows = await db.execute(
        select(SessionGrader, StaffUser).join(StaffUser, StaffUser.id == SessionGrader.staff_id)
        .where(SessionGrader.session_id == session_id, SessionGrader.removed_at.is_(None)).order_by(SessionGrader.code)
    )  # fmt: skip
    return [Grader(r.StaffUser, r.SessionGrader.code, r.SessionGrader.assigned_at) for r in rows]


async def add_grader(
    db: AsyncSession, *, session_id: uuid.UUID, staff: StaffUser, now: datetime, actor: Actor, assigned_by: uuid.UUID | None
) -> Grader:
    """Idempotent. The grader's code (G01, G02, …) follows the order graders were first given the session."""
    await graded_session(db, session_id)
    if staff.role is not StaffRole.grader:
        raise errors.GraderRoleRequired()
    row = await db.get(SessionGrader, (session_id, staff.id))
    if row is not None and row.removed_at is None:
        return Grader(staff, row.code, row.assigned_at)
    if row is None:
        taken = await db.scalar(select(func.count()).select_from(SessionGrader).where(SessionGrader.session_id == session_id))
        row = SessionGrader(session_id=session_id, staff_id=staff.id, code=f"G{(taken or 0) + 1:02d}", assigned_by=assigned_by)
        db.add(row)
    row.assigned_at, row.assigned_by, row.removed_at = now, assigned_by, None
    await db.flush()
    record(db, at=now, actor=actor, action="grading.grader.add", target_kind="session", target_id=session_id, details={"staff_id": str(staff.id), "code": row.code})
    return Grader(staff, row.code, row.assigned_at)


async def remove_grader(db: AsyncSession, *, session_id: uuid.UUID, staff: StaffUser, now: datetime, actor: Actor) -> int:
    """Take a session from a grader: their open sheets go (the next assignment gives those sittings to others);
    what they submitted stays and counts. Answers how many open sheets went."""
    await graded_session(db, session_id)
    row = await db.get(SessionGrader, (session_id, staff.id))
    if row is None or row.removed_at is not None:
        raise errors.GraderNotAssigned()
    open_sheets = list(await db.scalars(select(GradeSheet).where(
        GradeSheet.session_id == session_id, GradeSheet.grader_id == staff.id, GradeSheet.submitted_at.is_(None)
    )))  # fmt: skip
    for sheet in open_sheets:
        await db.delete(sheet)
    row.removed_at = now
    record(db, at=now, actor=actor, action="grading.grader.remove", target_kind="session", target_id=session_id, details={"staff_id": str(staff.id), "code": row.code, "open_sheets_removed": len(open_sheets)})
    return len(open_sheets)
