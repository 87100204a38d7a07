"""Sessions (场次) of an exam and their questions."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin


class SessionKind(str, enum.Enum):
    practice = "practice"
    mock = "mock"
    formal = "formal"


class ExamSession(IdMixin, Base):
    """Mock and formal sessions have fixed times; practice sessions have durations and start on demand."""

    __tablename__ = "exam_sessions"

    exam_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    kind: Mapped[SessionKind] = mapped_column(Enum(SessionKind, native_enum=False, length=16))
    title: Mapped[str] = mapped_column(String(200))
    waiting_opens_at: Mapped[datetime | None]
    answer_starts_at: Mapped[datetime | None]
    answer_ends_at: Mapped[datetime | None]
    upload_deadline: Mapped[datetime | None]
    waiting_seconds: Mapped[int | None] = mapped_column(Integer)
    answer_seconds: Mapped[int | None] = mapped_column(Integer)
    upload_seconds: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime]


class Question(IdMixin, Base):
    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("session_id", "position"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exam_sessions.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    image_key: Mapped[str | None] = mapped_column(String(300))
    image_type: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime]
