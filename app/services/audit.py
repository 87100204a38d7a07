"""Audit trail: who did what to which thing, stamped with server time; read back in the zone of the exam each entry
belongs to."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AuditLog, Candidate, Device, Exam, ExamSession, FaceCheck, FaceReview, Notice, Question, Recording, Sitting


@dataclass(frozen=True, slots=True)
class Actor:
    kind: str  # ops | reviewer | candidate | device | system
    id: str | None = None


SYSTEM = Actor("system", "scheduler")


def record(
    db: AsyncSession,
    *,
    at: datetime,
    actor: Actor,
    action: str,
    target_kind: str,
    target_id: uuid.UUID | str | None,
    details: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        at=at,
        actor_kind=actor.kind,
        actor_id=actor.id,
        action=action,
        target_kind=target_kind,
        target_id=str(target_id) if target_id is not None else None,
        details=details or {},
    )
    db.add(entry)
    return entry


async def list_entries(
    db: AsyncSession,
    *,
    action: str | None = None,
    target_ids: list[str] | None = None,
    actor_id: str | None = None,
    limit: int = 100,
    before: datetime | None = None,
) -> list[AuditLog]:
    query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(limit)
    if action:
        query = query.where(AuditLog.action == action)
    if target_ids is not None:
        query = query.where(AuditLog.target_id.in_(target_ids))
    if actor_id:
        query = query.where(AuditLog.actor_id == actor_id)
    if before:
        query = query.where(AuditLog.at < before)
    return list((await db.scalars(query)).all())


async def sitting_targets(db: AsyncSession, sitting_id: uuid.UUID) -> list[str]:
    """The ids an entry about a sitting can name: the sitting, and its phones, recordings and face checks."""
    ids = [str(sitting_id)]
    for model in (Device, Recording, FaceCheck):
        ids += [str(i) for i in await db.scalars(select(model.id).where(model.sitting_id == sitting_id))]
    return ids


def _through_sitting(model: Any) -> Select[Any]:
    return (
        select(model.id, Exam.timezone)
        .join(Sitting, Sitting.id == model.sitting_id)
        .join(ExamSession, ExamSession.id == Sitting.session_id)
        .join(Exam, Exam.id == ExamSession.exam_id)
    )


def _through_candidate(model: Any) -> Select[Any]:
    return select(model.id, Exam.timezone).join(Candidate, Candidate.id == model.candidate_id).join(Exam, Exam.id == Candidate.exam_id)


# Each kind of target that lives inside an exam, and how to reach that exam's timezone from the target's id. Staff
# accounts and log-ins belong to no exam; an assignment names its exam in its details (so does a notice).
_ZONE_OF_TARGET: dict[str, Select[Any]] = {
    "exam": select(Exam.id, Exam.timezone),
    "notice": select(Notice.id, Exam.timezone).join(Exam, Exam.id == Notice.exam_id),
    "session": select(ExamSession.id, Exam.timezone).join(Exam, Exam.id == ExamSession.exam_id),
    "question": select(Question.id, Exam.timezone).join(ExamSession, ExamSession.id == Question.session_id).join(Exam, Exam.id == ExamSession.exam_id),
    "candidate": select(Candidate.id, Exam.timezone).join(Exam, Exam.id == Candidate.exam_id),
    "sitting": select(Sitting.id, Exam.timezone).join(ExamSession, ExamSession.id == Sitting.session_id).join(Exam, Exam.id == ExamSession.exam_id),
    "device": _through_sitting(Device),
    "recording": _through_sitting(Recording),
    "face_review": _through_candidate(FaceReview),
    "face_check": _through_candidate(FaceCheck),
}


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _exam_key(entry: AuditLog) -> tuple[str, uuid.UUID] | None:
    """Where to look this entry's exam up: the exam its details name, else its target (None: it has no exam)."""
    named = _uuid(entry.details["exam_id"]) if isinstance(entry.details, dict) and "exam_id" in entry.details else None
    if named is not None:
        return ("exam", named)
    target = _uuid(entry.target_id) if entry.target_id else None
    return (entry.target_kind, target) if target is not None and entry.target_kind in _ZONE_OF_TARGET else None


async def exam_zones(db: AsyncSession, entries: list[AuditLog]) -> dict[uuid.UUID, str]:
    """The timezone of the exam each entry belongs to, by entry id. Entries of no exam (staff accounts, staff
    log-ins) and entries whose target is gone (a deleted notice that named no exam) are left out."""
    keys = {entry.id: key for entry in entries if (key := _exam_key(entry)) is not None}
    wanted: dict[str, set[uuid.UUID]] = {}
    for kind, target in keys.values():
        wanted.setdefault(kind, set()).add(target)
    found: dict[tuple[str, uuid.UUID], str] = {}
    for kind, ids in wanted.items():
        query = _ZONE_OF_TARGET[kind]
        for target, timezone in await db.execute(query.where(query.selected_columns[0].in_(ids))):
            found[(kind, target)] = timezone
    return {entry_id: found[key] for entry_id, key in keys.items() if key in found}
