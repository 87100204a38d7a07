"""Audit trail: who did what to which thing, stamped with server time."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditLog


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # ops | reviewer | candidate | device | system
    id: str | None = None


SYSTEM = Actor("system", "scheduler")


def record(
    db: AsyncSession,
    *,
    at: datetime,
    actor: Actor,
    action: str,
    target_kind: str,
    target_id: uuid.UUID | str | None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        at=at,
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        target_kind=target_kind,
        target_id=str(target_id) if target_id is not None else None,
        details=details or {},
    )
    db.add(entry)
    return entry


async def list_entries(
    db: AsyncSession,
    *,
    action: str | None = None,
    target_id: str | None = None,
    limit: int = 100,
    before: datetime | None = None,
) -> list[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit)
    if action:
        query = query.where(AuditLog.action == action)
    if target_id:
        query = query.where(AuditLog.target_id == target_id)
    if before:
        query = query.where(AuditLog.at < before)
    return list((await db.scalars(query)).all())
