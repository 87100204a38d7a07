"""Audit log of every ops/reviewer action and every state-changing decision."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin
from app.ids import ordered_uuid


class AuditLog(Base):
    __tablename__ = "audit_log"
    # Time-ordered: rows of one transaction share `at` and still list in the order they were written.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=ordered_uuid)

    at: Mapped[datetime] = mapped_column(index=True)
    actor_kind: Mapped[str] = mapped_column(String(16))  # ops | reviewer | candidate | device | system
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_kind: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PhaseAnnouncement(IdMixin, Base):
    """One row per announced phase (unique key): what makes the scheduler idempotent across restarts and replicas."""

    __tablename__ = "phase_announcements"

    key: Mapped[str] = mapped_column(String(120), unique=True)
    due_at: Mapped[datetime]
    announced_at: Mapped[datetime]
