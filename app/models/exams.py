"""Exams (招聘/考试项目) and their notices."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin


class Exam(IdMixin, Base):
    __tablename__ = "exams"

    title: Mapped[str] = mapped_column(String(200))
    organizer: Mapped[str] = mapped_column(String(200))
    province: Mapped[str] = mapped_column(String(32))
    identity_category: Mapped[str] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64))
    confirm_opens_at: Mapped[datetime]
    confirm_closes_at: Mapped[datetime]
    support_phone: Mapped[str] = mapped_column(String(64), default="")
    support_qq: Mapped[str] = mapped_column(String(64), default="")
    support_wechat: Mapped[str] = mapped_column(String(64), default="")
    support_hours: Mapped[str] = mapped_column(String(200), default="")
    rules_text: Mapped[str] = mapped_column(Text, default="")
    self_registration: Mapped[bool] = mapped_column(Boolean, default=False)
    # Interruption policy during answering (seed: 不得退出视频录制过程; a common rule: back within 2 minutes,
    # at most once). More interruptions than the limit, or one longer than the grace, terminate the sitting.
    interruption_limit: Mapped[int] = mapped_column(Integer, default=1)
    interruption_grace_seconds: Mapped[int] = mapped_column(Integer, default=120)
    # What a violation's reason does to the result where this exam departs from the seed's rules ({code: "zero" |
    # "disqualify"}); a code not named here keeps its default (app.services.review.reasons).
    conduct_rules: Mapped[dict[str, str]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Notice(IdMixin, Base):
    __tablename__ = "notices"

    exam_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime]
