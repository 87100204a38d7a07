"""Exams and their notices."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import Exam, Notice
from app.services.audit import Actor, record
from app.services.scope import EVERY_EXAM, ExamScope
from app.services.timezones import to_utc

_EXAM_TIME_FIELDS = ("confirm_opens_at", "confirm_closes_at")


async def get_exam(db: AsyncSession, exam_id: uuid.UUID, *, scope: ExamScope = EVERY_EXAM) -> Exam:
    exam = await db.scalar(select(Exam).where(Exam.id == exam_id, scope.covers(Exam.id)))
    if exam is None:
        raise errors.ExamNotFound()
    return exam


async def exam_timezone(db: AsyncSession, exam_id: uuid.UUID) -> str:
    return (await get_exam(db, exam_id)).timezone


async def list_exams(db: AsyncSession, *, scope: ExamScope = EVERY_EXAM) -> list[Exam]:
    return list((await db.scalars(select(Exam).where(scope.covers(Exam.id)).order_by(Exam.created_at.desc()))).all())


def _apply(exam: Exam, fields: dict[str, Any]) -> None:
    timezone = fields.get("timezone", exam.timezone)
    for name, value in fields.items():
        if name in _EXAM_TIME_FIELDS and value is not None:
            value = to_utc(value, timezone)
        setattr(exam, name, value)
    if exam.confirm_opens_at >= exam.confirm_closes_at:
        raise errors.ConfirmWindowOrder()


async def create_exam(db: AsyncSession, *, fields: dict[str, Any], default_timezone: str, now: datetime, actor: Actor) -> Exam:
    """`default_timezone` (the server's setting) applies when the exam names none."""
    exam = Exam(created_at=now, updated_at=now, timezone=fields.pop("timezone", None) or default_timezone)
    _apply(exam, fields)
    db.add(exam)
    await db.flush()
    record(db, at=now, actor=actor, action="exam.create", target_kind="exam", target_id=exam.id, details={"title": exam.title})
    return exam


async def update_exam(db: AsyncSession, *, exam: Exam, fields: dict[str, Any], now: datetime, actor: Actor) -> Exam:
    _apply(exam, fields)
    exam.updated_at = now
    record(db, at=now, actor=actor, action="exam.update", target_kind="exam", target_id=exam.id, details={"fields": sorted(fields)})
    return exam


async def list_notices(db: AsyncSession, *, exam_id: uuid.UUID) -> list[Notice]:
    query = select(Notice).where(Notice.exam_id == exam_id).order_by(Notice.pinned.desc(), Notice.published_at.desc())
    return list((await db.scalars(query)).all())


async def create_notice(
    db: AsyncSession, *, exam: Exam, title: str, body: str, pinned: bool, now: datetime, actor: Actor
) -> Notice:
    notice = Notice(exam_id=exam.id, title=title, body=body, pinned=pinned, published_at=now)
    db.add(notice)
    await db.flush()
    record(db, at=now, actor=actor, action="notice.create", target_kind="notice", target_id=notice.id, details={"exam_id": str(exam.id)})
    return notice


async def delete_notice(db: AsyncSession, *, notice_id: uuid.UUID, now: datetime, actor: Actor) -> None:
    notice = await db.get(Notice, notice_id)
    if notice is None:
        raise errors.NoticeNotFound()
    await db.delete(notice)
    record(db, at=now, actor=actor, action="notice.delete", target_kind="notice", target_id=notice_id, details={"title": notice.title, "exam_id": str(notice.exam_id)})
