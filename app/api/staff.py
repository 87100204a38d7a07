"""Ops: staff accounts and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from app import errors
from app.api.deps import DB, Now, Ops
from app.schemas import AwareInstant
from app.schemas.auth import StaffCreate, StaffOut
from app.services import audit, auth

router = APIRouter(prefix="/api/v1/ops", tags=["ops: staff and audit"])


class AuditOut(BaseModel):
    at: datetime
    actor_kind: str
    actor_id: str | None
    action: str
    target_kind: str
    target_id: str | None
    details: dict[str, Any]


@router.post(
    "/staff", response_model=StaffOut, status_code=status.HTTP_201_CREATED, responses=errors.responses(errors.UsernameTaken, errors.WeakPassword)
)
async def create_staff(body: StaffCreate, principal: Ops, db: DB, now: Now) -> StaffOut:
    """Create an ops or reviewer account."""
    staff = await auth.create_staff(
        db, username=body.username, display_name=body.display_name, role=body.role, password=body.password, now=now, actor=principal.actor
    )
    return StaffOut.model_validate(staff)


@router.get("/staff", response_model=list[StaffOut])
async def list_staff(principal: Ops, db: DB) -> list[StaffOut]:
    """All staff accounts."""
    return [StaffOut.model_validate(s) for s in await auth.list_staff(db)]


@router.get("/audit", response_model=list[AuditOut])
async def list_audit(
    principal: Ops,
    db: DB,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    before: Annotated[AwareInstant | None, Query(description="entries strictly older than this time (with its offset)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """Audit entries, newest first."""
    entries = await audit.list_entries(db, action=action, target_id=target_id, before=before, limit=limit)
    return [AuditOut.model_validate(e, from_attributes=True) for e in entries]
