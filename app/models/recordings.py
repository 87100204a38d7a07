"""Recordings: one per sitting and phone role, the exam's view of a tus upload.

The bytes and their protocol state live in `tus_uploads` (app.uploads); a recording points at the upload that
currently carries it. A recording that failed verification may be sent again: the new upload replaces the old one
here, and the old one stays in `tus_uploads` as it was (evidence is never deleted by a retry).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin
from app.models.sittings import DeviceRole


class RecordingStatus(str, enum.Enum):
    receiving = "receiving"  # bytes arriving (or waiting for the phone to go on)
    verified = "verified"  # all bytes in, the container parses, duration known
    failed = "failed"  # all bytes in but the file does not parse: the phone may send it again


class Recording(IdMixin, Base):
    __tablename__ = "recordings"
    __table_args__ = (UniqueConstraint("sitting_id", "role"),)

    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    role: Mapped[DeviceRole] = mapped_column(Enum(DeviceRole, native_enum=False, length=8))
    # No foreign key: the id is chosen (and committed) before the tus server inserts the upload row.
    upload_id: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[RecordingStatus] = mapped_column(Enum(RecordingStatus, native_enum=False, length=12))
    attempts: Mapped[int] = mapped_column(default=1)  # uploads made for it (a failed one may be sent again)
    # What the probe read (PyAV): container, streams, duration counted from packets.
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    chain_sha256: Mapped[str | None] = mapped_column(String(64))
    container: Mapped[str | None] = mapped_column(String(40))
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    media: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    # The playback copy (app.services.recordings.playback): the same packets remuxed with a duration and cues, so a
    # browser can seek; the original bytes and their sha256 stay the evidence. Kept in the upload store under
    # `playback_key` (its store state beside it); `playback_of` is the sha256 of the original it was made from.
    playback_key: Mapped[str | None] = mapped_column(String(300))
    playback_size: Mapped[int | None] = mapped_column(BigInteger)
    playback_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    playback_of: Mapped[str | None] = mapped_column(String(64))
    playback_error: Mapped[str | None] = mapped_column(String(300))
