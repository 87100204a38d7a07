"""Pairing tokens, proctoring events and interruptions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin
from app.ids import ordered_uuid


class PairingToken(IdMixin, Base):
    """Single-use, short-lived; shown by the main phone as a QR code of `/aux/#pair=<token>`. Stored hashed."""

    __tablename__ = "pairing_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    created_by_device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))


class ProctorEvent(Base):
    """What happened to a sitting, stamped with server time (`at`); `client_at` is the phone's own claim."""

    __tablename__ = "proctor_events"
    # Time-ordered: rows of one transaction share `at` and still list in the order they were written.
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=ordered_uuid)

    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(8))  # device | server
    kind: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime]
    client_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Interruption(IdMixin, Base):
    """A stretch during which one phone was away (app hidden, call, screen locked, offline)."""

    __tablename__ = "interruptions"

    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
