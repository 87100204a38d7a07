"""Ops: exams and notices."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from app import errors
from app.api.deps import DB, Now, Ops, Scope, SettingsDep, Staff
from app.schemas.exams import ExamCreate, ExamOut, ExamUpdate, NoticeCreate, NoticeOut
from app.services.exam import exams

router = APIRouter(prefix="/api/v1/ops", tags=["ops: exams"])


@router.post("/exams", response_model=ExamOut, status_code=status.HTTP_201_CREATED, responses=errors.responses(errors.ConfirmWindowOrder))
async def create_exam(body: ExamCreate, principal: Ops, db: DB, now: Now, settings: SettingsDep) -> ExamOut:
    """Create an exam."""
    exam = await exams.create_exam(db, fields=body.model_dump(), default_timezone=settings.timezone, now=now, actor=principal.actor)
    return ExamOut.of(exam)


@router.get("/exams", response_model=list[ExamOut])
async def list_exams(principal: Staff, scope: Scope, db: DB) -> list[ExamOut]:
    """The exams the caller may read (ops: all; a reviewer: those assigned), newest first."""
    return [ExamOut.of(e) for e in await exams.list_exams(db, scope=scope)]


@router.get("/exams/{exam_id}", response_model=ExamOut, responses=errors.responses(errors.ExamNotFound))
async def get_exam(exam_id: uuid.UUID, principal: Staff, scope: Scope, db: DB) -> ExamOut:
    """One exam."""
    return ExamOut.of(await exams.get_exam(db, exam_id, scope=scope))


@router.patch("/exams/{exam_id}", response_model=ExamOut, responses=errors.responses(errors.ExamNotFound, errors.ConfirmWindowOrder))
async def update_exam(exam_id: uuid.UUID, body: ExamUpdate, principal: Ops, db: DB, now: Now) -> ExamOut:
    """Change some fields of an exam (only those sent)."""
    exam = await exams.get_exam(db, exam_id)
    fields = body.model_dump(exclude_unset=True)
    exam = await exams.update_exam(db, exam=exam, fields=fields, now=now, actor=principal.actor)
    return ExamOut.of(exam)


@router.post(
    "/exams/{exam_id}/notices", response_model=NoticeOut, status_code=status.HTTP_201_CREATED, responses=errors.responses(errors.ExamNotFound)
)
async def create_notice(exam_id: uuid.UUID, body: NoticeCreate, principal: Ops, db: DB, now: Now) -> NoticeOut:
    """Publish a notice candidates see."""
    exam = await exams.get_exam(db, exam_id)
    notice = await exams.create_notice(db, exam=exam, title=body.title, body=body.body, pinned=body.pinned, now=now, actor=principal.actor)
    return NoticeOut.of(notice, exam.timezone)


@router.get("/exams/{exam_id}/notices", response_model=list[NoticeOut], responses=errors.responses(errors.ExamNotFound))
async def list_notices(exam_id: uuid.UUID, principal: Staff, scope: Scope, db: DB) -> list[NoticeOut]:
    """Notices of an exam, pinned first."""
    exam = await exams.get_exam(db, exam_id, scope=scope)
    return [NoticeOut.of(n, exam.timezone) for n in await exams.list_notices(db, exam_id=exam.id)]


@router.delete("/notices/{notice_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors.responses(errors.NoticeNotFound))
async def delete_notice(notice_id: uuid.UUID, principal: Ops, db: DB, now: Now) -> None:
    """Withdraw a notice."""
    await exams.delete_notice(db, notice_id=notice_id, now=now, actor=principal.actor)
