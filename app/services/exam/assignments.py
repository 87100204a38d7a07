"""Staff assigned to exams: ops give a reviewer (any staff role but ops) the exams it may read (app/services/scope.py)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import StaffExam, StaffRole, StaffUser
from app.services.audit import Actor, record
from app.services.exam.exams import get_exam


@dataclass(frozen=True, slots=True)
class Assignment:
    staff: StaffUser
    exam_id: uuid.UUID
    assigned_at: datetime
    assigned_by: uuid.UUID | None
    timezone: str  # the exam's: an assignment is shown in it


async def get_staff(db: AsyncSession, staff_id: uuid.UUID) -> StaffUser:
    staff = await db.get(StaffUser, staff_id)
    if staff is None:
        raise errors.StaffNotFound()
    return staff


async def staff_by_username(db: AsyncSession, username: str) -> StaffUser:
    staff = await db.scalar(select(StaffUser).where(StaffUser.username == username))
    if staff is None:
        raise errors.StaffNotFound()
    return staff


async def assign(
    db: AsyncSession, *, exam_id: uuid.UUID, staff: StaffUser, now: datetime, actor: Actor, assigned_by: uuid.UUID | None
) -> Assignment:
    """Idempotent: assigning again answers the assignment as it stands (and audits nothing new)."""
    exam = await get_exam(db, exam_id)
    if staff.role is StaffRole.ops:
        raise errors.StaffSeesAllExams()
    if staff.role is StaffRole.grader:
        raise errors.GradersGetSessions()
    row = await db.get(StaffExam, (staff.id, exam_id))
    if row is None:
        row = StaffExam(staff_id=staff.id, exam_id=exam_id, assigned_at=now, assigned_by=assigned_by)
        db.add(row)
        await db.flush()
        record(db, at=now, actor=actor, action="staff.exam.assign", target_kind="staff", target_id=staff.id, details={"exam_id": str(exam_id), "username": staff.username})
    return Assignment(staff, exam_id, row.assigned_at, row.assigned_by, exam.timezone)


async def unassign(db: AsyncSession, *, exam_id: uuid.UUID, staff: StaffUser, now: datetime, actor: Actor) -> None:
    await get_exam(db, exam_id)
    row = await db.get(StaffExam, (staff.id, exam_id))
    if row is None:
        raise errors.StaffNotAssigned()
    await db.delete(row)
    record(db, at=now, actor=actor, action="staff.exam.unassign", target_kind="staff", target_id=staff.id, details={"exam_id": str(exam_id), "username": staff.username})


async def assigned_staff(db: AsyncSession, *, exam_id: uuid.UUID) -> list[Assignment]:
    exam = await get_exam(db, exam_id)
    rows = await db.execute(
        select(StaffExam, StaffUser).join(StaffUser, StaffUser.id == StaffExam.staff_id).where(StaffExam.exam_id == exam_id).order_by(StaffUser.username)
    )
    return [Assignment(r.StaffUser, r.StaffExam.exam_id, r.StaffExam.assigned_at, r.StaffExam.assigned_by, exam.timezone) for r in rows]
