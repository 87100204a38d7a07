"""Candidates: roster entries of one exam."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin


class Candidate(IdMixin, Base):
    """The ID number is kept only as a keyed hash (lookups) and a masked form (display)."""

    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("exam_id", "id_number_hash"),
        UniqueConstraint("exam_id", "phone"),
    )

    exam_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    id_number_hash: Mapped[str] = mapped_column(String(64), index=True)
    id_number_masked: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    # Ops issue an access code on import; it works until the candidate sets a password.
    access_code_hash: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    photo_key: Mapped[str | None] = mapped_column(String(300))
    identity_verified_at: Mapped[datetime | None]
    # When the latest identity selfie was judged. Claimed by a conditional update before a selfie is recorded, so
    # selfies sent at once (to any number of processes) are judged one after another: failures stop at the limit.
    identity_attempt_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    confirmed_rules_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
