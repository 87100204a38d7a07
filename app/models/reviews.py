"""The conduct review of a sitting: who is looking at it (a claim), what they made of each flag (a verdict), what
they saw that no flag caught (an incident), and what they decided (a decision, every version kept)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import JSON, Enum, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin
from app.models.sittings import DeviceRole


class ReviewClaim(Base):
    """One reviewer at a time per sitting, until `expires_at` (a claim left open runs out instead of blocking)."""

    __tablename__ = "review_claims"

    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), primary_key=True)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    claimed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Verdict(str, enum.Enum):
    confirmed = "confirmed"
    dismissed = "dismissed"


class FlagVerdict(Base):
    """The current verdict on a flag (earlier ones are in the audit log)."""

    __tablename__ = "flag_verdicts"

    flag_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), primary_key=True)
    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    verdict: Mapped[Verdict] = mapped_column(Enum(Verdict, native_enum=False, length=12))
    note: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    at: Mapped[datetime]


class Incident(IdMixin, Base):
    """Something a reviewer saw at a moment of the answer window that no flag caught."""

    __tablename__ = "incidents"

    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    role: Mapped[DeviceRole | None] = mapped_column(Enum(DeviceRole, native_enum=False, length=8))
    # Seconds from answer start, and the same moment in server time.
    offset_s: Mapped[float] = mapped_column(Float)
    occurred_at: Mapped[datetime]
    reason_code: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]


class Outcome(str, enum.Enum):
    clean = "clean"
    suspicious = "suspicious"  # needs another look: not a decision that ends the review
    violation = "violation"
    technical = "technical"  # the system or the network failed the candidate


class DecisionStatus(str, enum.Enum):
    final = "final"
    awaiting_second = "awaiting_second"  # a violation until a second staff member confirms it
    disputed = "disputed"  # the second disagreed: ops decide


class Decision(IdMixin, Base):
    """One version of a sitting's conduct decision. The current one is the newest not superseded; a reopen or a new
    decision supersedes it and keeps it."""

    __tablename__ = "conduct_decisions"
    __table_args__ = (Index("ix_conduct_decisions_sitting_id_version", "sitting_id", "version", unique=True),)

    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"))
    version: Mapped[int]
    outcome: Mapped[Outcome] = mapped_column(Enum(Outcome, native_enum=False, length=16))
    reason_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[DecisionStatus] = mapped_column(Enum(DecisionStatus, native_enum=False, length=16))
    decided_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    decided_at: Mapped[datetime]
    second_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    second_at: Mapped[datetime | None]
    second_agrees: Mapped[bool | None]
    second_note: Mapped[str | None] = mapped_column(Text)
    superseded_at: Mapped[datetime | None]
    # Why it was superseded, when ops reopened it (an appeal).
    reopen_note: Mapped[str | None] = mapped_column(Text)
    reopened_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
