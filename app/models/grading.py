"""Blind grading (考评分离) and published results: a session's rubric, its graders, the anonymous code of each sitting,
one score sheet per grader and sitting, a score ops set by hand, and every published version of the results."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin


class GradingPlan(Base):
    """How a session is graded: the rubric's items, graders per sitting, and how far their totals may spread."""

    __tablename__ = "grading_plans"

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True)
    # [{"key", "label", "label_en", "max_points", "step", "descriptors"}], in the order graders see them.
    rubric: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    graders_per_sitting: Mapped[int] = mapped_column(Integer, default=3)
    # The largest spread (max − min of the graders' totals) taken without an extra grader, as a share of the maximum.
    tolerance: Mapped[float] = mapped_column(Float, default=0.2)
    updated_at: Mapped[datetime]
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))


class SessionGrader(Base):
    """A grader given a session by ops. `code` (G01, G02, …) is how exports name them, never by name. A removed
    grader keeps the row (and the code, if given the session again): a code names one person in a session."""

    __tablename__ = "session_graders"
    __table_args__ = (UniqueConstraint("session_id", "code"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"), primary_key=True)
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True, index=True)
    code: Mapped[str] = mapped_column(String(8))
    assigned_at: Mapped[datetime]
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    removed_at: Mapped[datetime | None]


class GradingCode(Base):
    """The anonymous code graders know a sitting by (A-0137): drawn at random, so it says nothing of roster order."""

    __tablename__ = "grading_codes"
    __table_args__ = (UniqueConstraint("session_id", "code"),)

    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), primary_key=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(12))


class GradeSheet(IdMixin, Base):
    """One grader's scores for one sitting: a draft until submitted, then locked."""

    __tablename__ = "grade_sheets"
    __table_args__ = (
        UniqueConstraint("sitting_id", "grader_id"),
        Index("ix_grade_sheets_session_id_grader_id", "session_id", "grader_id"),
    )

    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"))
    grader_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    # Assigned because the first graders' totals spread past the tolerance.
    extra: Mapped[bool] = mapped_column(Boolean, default=False)
    assigned_at: Mapped[datetime]
    # {item key: points}; a draft may lack items, a submitted sheet has them all.
    scores: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    comment: Mapped[str | None] = mapped_column(Text)
    total: Mapped[float | None] = mapped_column(Float)
    saved_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]


class ScoreOverride(Base):
    """A final score ops set by hand, with the reason (earlier ones are in the audit log)."""

    __tablename__ = "score_overrides"

    sitting_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sittings.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    set_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    set_at: Mapped[datetime]


class ResultPublication(IdMixin, Base):
    """One published version of a session's results: the rows as they were frozen and the sha256 of their canonical
    JSON. A reopen closes it (with the reason); publishing again makes the next version."""

    __tablename__ = "result_publications"
    __table_args__ = (UniqueConstraint("session_id", "version"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime]
    published_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    reopened_at: Mapped[datetime | None]
    reopened_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    reopen_reason: Mapped[str | None] = mapped_column(Text)
