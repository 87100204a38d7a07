"""Face verification records: enrolments (reference templates), every check made, and the manual review queue.

Enrolments live in their own table rather than as columns on `candidates`: a template belongs to one model pack (an
SFace vector means nothing to ArcFace), so switching `DUALCAM_FACE_PACK` re-enrols from the stored ID photo beside
the old row instead of overwriting it; and the ~2 KB vector stays out of the candidate row that every authenticated
request loads.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, Float, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin


class FacePurpose(str, enum.Enum):
    identity = "identity"  # 实名认证: a live selfie against the ID photo
    waiting = "waiting"  # the waiting-room gate of a sitting
    in_exam = "in_exam"  # a frame checked while answering (proctoring)


class EnrolmentSource(str, enum.Enum):
    id_photo = "id_photo"  # imported by ops with the roster
    candidate_upload = "candidate_upload"  # uploaded by the candidate because none was imported


class ReviewDecision(str, enum.Enum):
    approve = "approve"
    reject = "reject"


class FaceEnrolment(IdMixin, Base):
    """A candidate's reference template for one model pack, taken from the ID photo at `image_key`."""

    __tablename__ = "face_enrolments"
    __table_args__ = (UniqueConstraint("candidate_id", "pack"),)  # also the index of lookups by candidate

    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    pack: Mapped[str] = mapped_column(String(32))
    # float32, little-endian, unit length; `dimension` floats.
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    dimension: Mapped[int] = mapped_column(Integer)
    source: Mapped[EnrolmentSource] = mapped_column(Enum(EnrolmentSource, native_enum=False, length=16))
    image_key: Mapped[str] = mapped_column(String(300))
    faces: Mapped[int] = mapped_column(Integer)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    enrolled_at: Mapped[datetime]


class FaceCheck(IdMixin, Base):
    """One comparison of a capture with the enrolment. `counted` is false when quality findings made the attempt
    coaching (retry with better light, closer, alone) rather than a failed comparison."""

    __tablename__ = "face_checks"
    __table_args__ = (Index("ix_face_checks_candidate_id_purpose_at", "candidate_id", "purpose", "at"),)

    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    sitting_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"), index=True)
    purpose: Mapped[FacePurpose] = mapped_column(Enum(FacePurpose, native_enum=False, length=16))
    similarity: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    pack: Mapped[str] = mapped_column(String(32))
    faces: Mapped[int] = mapped_column(Integer)
    match: Mapped[bool] = mapped_column(Boolean)
    passed: Mapped[bool] = mapped_column(Boolean)
    counted: Mapped[bool] = mapped_column(Boolean)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    image_key: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[datetime]


class FaceReview(IdMixin, Base):
    """Manual review of a candidate's identity after too many failed selfies; at most one open per candidate."""

    __tablename__ = "face_reviews"
    __table_args__ = (
        Index(
            "uq_face_reviews_open_candidate_id",
            "candidate_id",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    opened_at: Mapped[datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(32))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    decision: Mapped[ReviewDecision | None] = mapped_column(Enum(ReviewDecision, native_enum=False, length=8))
    note: Mapped[str | None] = mapped_column(Text)
