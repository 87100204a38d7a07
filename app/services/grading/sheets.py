"""A grader's own work: the queue of sheets, one sheet with what may be shown of its sitting, drafts, submission.

Only what a grader may see leaves this module: the sitting's anonymous code, the session's question, the two
recordings (as signed links and their offsets) and the grader's own scores. A sheet of another grader, or of a
session the grader was taken off, is not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import Exam, ExamSession, GradeSheet, GradingCode, Question, Recording, RecordingStatus, SessionGrader, StaffUser
from app.services.audit import Actor, record
from app.services.exam.sessions import list_questions, with_image
from app.services.flags.timeline import recording_starts
from app.services.grading import plan as plans
from app.services.grading.assignment import add_extra_if_needed
from app.services.recordings.links import Link, link_for
from app.services.results.publication import ensure_open
from app.services.sitting import sittings


@dataclass(frozen=True, slots=True)
class QueueEntry:
    sheet: GradeSheet
    code: str
    session: ExamSession
    exam_title: str
    timezone: str  # the exam's


def _mine(grader: StaffUser) -> Select[Any]:
    """Sheets of this grader in sessions they still hold."""
    return (
        select(GradeSheet, GradingCode.code, ExamSession, Exam.title, Exam.timezone)
        .join(GradingCode, GradingCode.sitting_id == GradeSheet.sitting_id)
        .join(ExamSession, ExamSession.id == GradeSheet.session_id)
        .join(Exam, Exam.id == ExamSession.exam_id)
        .join(SessionGrader, (SessionGrader.session_id == GradeSheet.session_id) & (SessionGrader.staff_id == GradeSheet.grader_id))
        .where(GradeSheet.grader_id == grader.id, SessionGrader.removed_at.is_(None))
    )


async def queue(db: AsyncSession, *, grader: StaffUser) -> list[QueueEntry]:
    """Open sheets first (in code order), then submitted ones."""
    rows = await db.execute(_mine(grader))
    entries = [QueueEntry(r.GradeSheet, r.code, r.ExamSession, r.title, r.timezone) for r in rows]
    return sorted(entries, key=lambda e: (e.sheet.submitted_at is not None, e.session.title, e.code))


async def _entry(db: AsyncSession, sheet_id: uuid.UUID, grader: StaffUser, *, lock: bool = False) -> QueueEntry:
    query = _mine(grader).where(GradeSheet.id == sheet_id)
    if lock:
        query = query.with_for_update(of=GradeSheet)
    row = (await db.execute(query)).first()
    if row is None:
        raise errors.GradeSheetNotFound()
    return QueueEntry(row.GradeSheet, row.code, row.ExamSession, row.title, row.timezone)


@dataclass(frozen=True, slots=True)
class Video:
    role: str
    link: Link
    duration_s: float | None
    offset_s: float  # its start − the answer start: where it sits on the shared timeline


@dataclass(frozen=True, slots=True)
class SheetView:
    entry: QueueEntry
    plan: plans.Plan
    questions: list[Question]
    videos: list[Video]
    answer_seconds: float


async def open_sheet(
    db: AsyncSession, *, sheet_id: uuid.UUID, grader: StaffUser, now: datetime, secret_key: str, link_ttl: timedelta, actor: Actor
) -> SheetView:
    entry = await _entry(db, sheet_id, grader)
    view = await sittings.load(db, sitting_id=entry.sheet.sitting_id, now=now)
    starts = await recording_starts(db, view=view)
    answer_starts = view.windows.answer_starts_at
    videos = []
    for recording in await db.scalars(
        select(Recording).where(Recording.sitting_id == view.sitting.id, Recording.status == RecordingStatus.verified)
    ):
        link = link_for(recording, secret_key=secret_key, now=now, ttl=link_ttl)
        offset = round((starts[recording.role] - answer_starts).total_seconds(), 3)
        videos.append(Video(recording.role.value, link, recording.duration_seconds, offset))
    videos.sort(key=lambda v: v.role != "main")  # the main camera first, as the reviewers see them
    record(db, at=now, actor=actor, action="grading.sheet.open", target_kind="grade_sheet", target_id=sheet_id, details={"code": entry.code})
    return SheetView(
        entry, await plans.get_plan(db, entry.session.id), await list_questions(db, session_id=entry.session.id), videos,
        (view.windows.answer_ends_at - answer_starts).total_seconds(),
    )  # fmt: skip


async def question_image(db: AsyncSession, *, sheet_id: uuid.UUID, grader: StaffUser, question_id: uuid.UUID) -> Question:
    """A question of the grader's sheet that has an image (a sheet exists once its sitting's answer is over)."""
    entry = await _entry(db, sheet_id, grader)
    return with_image(await list_questions(db, session_id=entry.session.id), question_id)


async def _writable(db: AsyncSession, sheet_id: uuid.UUID, grader: StaffUser) -> tuple[QueueEntry, plans.Plan]:
    entry = await _entry(db, sheet_id, grader, lock=True)
    if entry.sheet.submitted_at is not None:
        raise errors.GradeSheetSubmitted()
    await ensure_open(db, session_id=entry.session.id)
    return entry, await plans.get_plan(db, entry.session.id)


async def save(
    db: AsyncSession, *, sheet_id: uuid.UUID, grader: StaffUser, scores: Mapping[str, float], comment: str | None,
    now: datetime, actor: Actor,
) -> QueueEntry:  # fmt: skip
    """A draft: any subset of the items, each on the rubric; replaces the previous draft."""
    entry, grading = await _writable(db, sheet_id, grader)
    rubric = grading.require_rubric()
    sheet = entry.sheet
    sheet.scores = rubric.check_scores(scores, complete=False)
    sheet.comment, sheet.total, sheet.saved_at = comment, float(rubric.total(sheet.scores)), now
    record(db, at=now, actor=actor, action="grading.sheet.save", target_kind="grade_sheet", target_id=sheet.id, details={"code": entry.code})
    return entry


async def submit(
    db: AsyncSession, *, sheet_id: uuid.UUID, grader: StaffUser, scores: Mapping[str, float], comment: str | None,
    now: datetime, actor: Actor,
) -> QueueEntry:  # fmt: skip
    """Every item scored: the sheet locks. When the first graders' totals now spread past the tolerance, an extra
    grader is assigned at once."""
    entry, grading = await _writable(db, sheet_id, grader)
    rubric = grading.require_rubric()
    sheet = entry.sheet
    sheet.scores = rubric.check_scores(scores, complete=True)
    total = rubric.total(sheet.scores)
    sheet.comment, sheet.total, sheet.saved_at, sheet.submitted_at = comment, float(total), now, now
    await db.flush()
    record(db, at=now, actor=actor, action="grading.sheet.submit", target_kind="grade_sheet", target_id=sheet.id, details={"code": entry.code, "total": float(total), "scores": sheet.scores})
    # The sitting's lock: two graders submitting at once judge the spread one after the other, so neither misses the
    # other's total.
    view = await sittings.load(db, sitting_id=sheet.sitting_id, now=now, lock=True)
    await add_extra_if_needed(db, grading=grading, sitting=view.sitting, now=now)
    return entry
