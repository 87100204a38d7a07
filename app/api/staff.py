"""Ops: staff accounts, the exams assigned to them, and the audit log."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app import errors
from app.api.deps import DB, Now, Ops
from app.schemas import AwareInstant
from app.schemas.audit import AuditOut
from app.schemas.auth import StaffAssignmentOut, StaffCreate, StaffOut
from app.services import audit, auth
from app.services.exam import assignments
from app.services.timezones import to_local

router = APIRouter(prefix="/api/v1/ops", tags=["ops: staff and audit"])


@router.post(
    "/staff", response_model=StaffOut, status_code=status.HTTP_201_CREATED, responses=errors.responses(errors.UsernameTaken, errors.WeakPassword)
)
async def create_staff(body: StaffCreate, principal: Ops, db: DB, now: Now) -> StaffOut:
    """Create an ops, reviewer or grader account."""
    staff = await auth.create_staff(
        db, username=body.username, display_name=body.display_name, role=body.role, password=body.password, now=now, actor=principal.actor
    )
    return StaffOut.model_validate(staff)


@router.get("/staff", response_model=list[StaffOut])
async def list_staff(principal: Ops, db: DB) -> list[StaffOut]:
    """All staff accounts."""
    return [StaffOut.model_validate(s) for s in await auth.list_staff(db)]


def _assignment_out(a: assignments.Assignment) -> StaffAssignmentOut:
    """In the exam's timezone, the staff account's creation too: an exam's answer reads one clock."""
    staff = StaffOut.model_validate(a.staff).model_copy(update={"created_at": to_local(a.staff.created_at, a.timezone)})
    return StaffAssignmentOut(exam_id=a.exam_id, staff=staff, assigned_at=to_local(a.assigned_at, a.timezone), assigned_by=a.assigned_by)


@router.get("/exams/{exam_id}/staff", response_model=list[StaffAssignmentOut], responses=errors.responses(errors.ExamNotFound))
async def list_exam_staff(exam_id: uuid.UUID, principal: Ops, db: DB) -> list[StaffAssignmentOut]:
    """The staff assigned to an exam (ops read every exam without being assigned)."""
    return [_assignment_out(a) for a in await assignments.assigned_staff(db, exam_id=exam_id)]


@router.put(
    "/exams/{exam_id}/staff/{staff_id}",
    response_model=StaffAssignmentOut,
    responses=errors.responses(errors.ExamNotFound, errors.StaffNotFound, errors.StaffSeesAllExams, errors.GradersGetSessions),
)
async def assign_staff(exam_id: uuid.UUID, staff_id: uuid.UUID, principal: Ops, db: DB, now: Now) -> StaffAssignmentOut:
    """Let a reviewer read this exam (its roster, sittings, recordings, face reviews); idempotent, audited."""
    assert principal.staff is not None
    staff = await assignments.get_staff(db, staff_id)
    assignment = await assignments.assign(db, exam_id=exam_id, staff=staff, now=now, actor=principal.actor, assigned_by=principal.staff.id)
    return _assignment_out(assignment)


@router.delete(
    "/exams/{exam_id}/staff/{staff_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors.responses(errors.ExamNotFound, errors.StaffNotFound, errors.StaffNotAssigned),
)
async def unassign_staff(exam_id: uuid.UUID, staff_id: uuid.UUID, principal: Ops, db: DB, now: Now) -> None:
    """Take an exam away from a reviewer: its rows answer 404 to them from the next request on; audited."""
    staff = await assignments.get_staff(db, staff_id)
    await assignments.unassign(db, exam_id=exam_id, staff=staff, now=now, actor=principal.actor)


@router.get("/audit", response_model=list[AuditOut])
async def list_audit(
    principal: Ops,
    db: DB,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_id: Annotated[str | None, Query(max_length=64, description="one staff member's (or device's, candidate's) entries")] = None,
    before: Annotated[AwareInstant | None, Query(description="entries strictly older than this time (with its offset)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """Audit entries, newest first; an entry of an exam has its times in the exam's timezone, others in UTC."""
    entries = await audit.list_entries(db, action=action, target_ids=[target_id] if target_id else None, actor_id=actor_id, before=before, limit=limit)
    zones = await audit.exam_zones(db, entries)
    return [AuditOut.of(e, zones.get(e.id)) for e in entries]
