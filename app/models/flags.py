"""Flags (stretches of a sitting worth a reviewer's look) and the analysis jobs that find them in recordings.

Every flag is stored, whatever its source, so that a reviewer's verdict can point at it: `recording` flags come from
the analysis of a verified recording (replaced when a new analyzer version runs; the old rows stay, superseded, with
their verdicts), `live` flags from the stills the main phone sends while answering, `event` flags from the stored
proctoring events and interruptions.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin
from app.models.sittings import DeviceRole


class FlagSource(str, enum.Enum):
    recording = "recording"
    live = "live"
    event = "event"


class Flag(IdMixin, Base):
    __tablename__ = "flags"
    __table_args__ = (
        # One flag per origin: re-deriving event flags, or a repeated live result, updates instead of duplicating.
        UniqueConstraint("sitting_id", "origin"),
        Index("ix_flags_sitting_id_kind", "sitting_id", "kind"),
    )

    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"))
    recording_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"), index=True)
    # What produced it, stable across re-derivations: "recording:<sha256>:<analyzer>:<n>", "live:<check id>",
    # "event:<interruption id>", ...
    origin: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    role: Mapped[DeviceRole] = mapped_column(Enum(DeviceRole, native_enum=False, length=8))
    source: Mapped[FlagSource] = mapped_column(Enum(FlagSource, native_enum=False, length=12))
    # Seconds from the start of the phone's recording (or of the answer window when there is none), and the same
    # stretch in server time.
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    # The measured value (a similarity, a brightness, a count of faces) or a confidence, as `detail` says.
    value: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    analyzer_version: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime]
    superseded_at: Mapped[datetime | None]


class AnalysisStatus(str, enum.Enum):
    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"  # attempts used up; `failure_reason` says why


class AnalysisJob(IdMixin, Base):
    """The analysis of one recording's bytes by one analyzer version: running it again changes nothing."""

    __tablename__ = "analysis_jobs"
    __table_args__ = (
        UniqueConstraint("recording_id", "sha256", "analyzer_version"),
        Index("ix_analysis_jobs_status_queued_at", "status", "queued_at"),
    )

    recording_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("recordings.id", ondelete="CASCADE"))
    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    analyzer_version: Mapped[str] = mapped_column(String(20))
    status: Mapped[AnalysisStatus] = mapped_column(Enum(AnalysisStatus, native_enum=False, length=12))
    attempts: Mapped[int] = mapped_column(default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # share of the recording's duration analysed, 0–1
    failure_reason: Mapped[str | None] = mapped_column(String(300))
    # A running job's claim: which worker holds it, and until when (a worker that died leaves it to be taken again).
    # On a pending job that failed before, `lease_until` is when it may be retried.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    queued_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
