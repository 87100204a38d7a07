"""Audit entries as ops read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.models import AuditLog
from app.services.timezones import local_details, to_local


class AuditOut(BaseModel):
    at: datetime
    actor_kind: str
    actor_id: str | None
    action: str
    target_kind: str
    target_id: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditLog, timezone: str | None) -> AuditOut:
        """`timezone`: the zone of the entry's exam (None: it belongs to no exam, shown in UTC)."""
        at = to_local(entry.at, timezone) if timezone else entry.at
        return cls(at=at, actor_kind=entry.actor_kind, actor_id=entry.actor_id, action=entry.action, target_kind=entry.target_kind,
                   target_id=entry.target_id, details=local_details(entry.details, timezone))  # fmt: skip
