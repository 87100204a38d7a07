"""Sittings (one candidate in one session, many attempts for practice) and their devices.

A sitting has no status column: its state is derived from these facts and the server time
(app.services.sitting.lifecycle.sitting_state).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin


class DeviceRole(str, enum.Enum):
    main = "main"
    aux = "aux"


class Sitting(IdMixin, Base):
    __tablename__ = "sittings"
    __table_args__ = (UniqueConstraint("candidate_id", "session_id", "attempt"),)

    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    # Practice only: when this attempt started; its windows are the session's durations from here.
    started_at: Mapped[datetime | None]
    # Practice only: the question drawn from the practice pool for this attempt.
    question_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("questions.id", ondelete="SET NULL"))
    # Facts fed by the device, face and upload services.
    face_passed_at: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    recording_stopped_at: Mapped[datetime | None]
    terminated_at: Mapped[datetime | None]
    terminated_reason: Mapped[str | None] = mapped_column(String(200))
    uploaded_at: Mapped[datetime | None]
    # Written by the scheduler when it records a final decision (absent, incomplete); the state
    # function never reads it, so a late scheduler cannot change a state.
    outcome: Mapped[str | None] = mapped_column(String(16))
    outcome_at: Mapped[datetime | None]
    # When the waiting-room gate last judged a capture (not one of the facts the state is read from): claimed by a
    # conditional update before a capture is recorded, so captures sent at once are judged one after another and
    # failures in a row cannot run past a cool-down.
    gate_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # What the sitting's phones have stored in its event log (count, bytes of details): the log is capped, and a
    # counter checked and raised in one statement is the cap's only cost per event.
    device_event_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    device_event_bytes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Device(IdMixin, Base):
    """A phone logged in as main or aux for a sitting; one active per role (held by the database: two log-ins at
    the same moment cannot both stay active)."""

    __tablename__ = "devices"
    __table_args__ = (
        Index(
            "uq_devices_active_sitting_id_role",
            "sitting_id",
            "role",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
    )

    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    role: Mapped[DeviceRole] = mapped_column(Enum(DeviceRole, native_enum=False, length=8))
    created_at: Mapped[datetime]
    superseded_at: Mapped[datetime | None]
    # Presence: online while connected_at is set, disconnected_at is not, and heartbeats keep last_seen_at fresh.
    connected_at: Mapped[datetime | None]
    disconnected_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]
    # The last heartbeat's telemetry: battery, charging, network, free_storage, visibility.
    telemetry: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
