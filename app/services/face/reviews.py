"""The manual review queue: candidates whose selfies failed too often, decided by a reviewer; and the audited
reads of biometric images."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.adapters.storage import ObjectNotFound, ObjectStore
from app.logs import get_logger
from app.models import Candidate, Exam, FaceCheck, FacePurpose, FaceReview, ReviewDecision
from app.services.audit import Actor, record
from app.services.face.checks import counted_failure
from app.services.images import stored_type
from app.services.scope import EVERY_EXAM, ExamScope

log = get_logger(__name__)

REVIEW_REASON = "identity_failures"


@dataclass(frozen=True, slots=True)
class ReviewRow:
    review: FaceReview
    candidate: Candidate
    timezone: str
    failures: int


async def open_review(db: AsyncSession, *, candidate: Candidate, failures: int, now: datetime) -> FaceReview:
    review = FaceReview(candidate_id=candidate.id, opened_at=now, reason=REVIEW_REASON)
    try:
        async with db.begin_nested():
            db.add(review)
    except IntegrityError:
        # A concurrent failure opened it first (one open review per candidate, a unique partial index).
        existing = await latest_review(db, candidate_id=candidate.id)
        assert existing is not None
        return existing
    record(db, at=now, actor=Actor("system"), action="face.review.open", target_kind="face_review", target_id=review.id, details={"candidate_id": str(candidate.id), "failures": failures, "reason": REVIEW_REASON})
    log.info("face.review.opened", review_id=str(review.id), candidate_id=str(candidate.id), failures=failures)
    return review


async def latest_review(db: AsyncSession, *, candidate_id: uuid.UUID) -> FaceReview | None:
    query = select(FaceReview).where(FaceReview.candidate_id == candidate_id).order_by(FaceReview.opened_at.desc(), FaceReview.id).limit(1)
    return await db.scalar(query)


def _review_query() -> Select[tuple[FaceReview, Candidate, str, int]]:
    """Reviews with their candidate, the exam's timezone and the candidate's counted failed selfies."""
    failed = (
        select(FaceCheck.candidate_id, func.count().label("failures"))
        .where(*counted_failure(FacePurpose.identity))
        .group_by(FaceCheck.candidate_id)
        .subquery()
    )
    return (
        select(FaceReview, Candidate, Exam.timezone, func.coalesce(failed.c.failures, 0))
        .join(Candidate, Candidate.id == FaceReview.candidate_id)
        .join(Exam, Exam.id == Candidate.exam_id)
        .outerjoin(failed, failed.c.candidate_id == FaceReview.candidate_id)
    )


async def list_reviews(
    db: AsyncSession,
    *,
    status: Literal["open", "resolved", "all"],
    exam_id: uuid.UUID | None,
    offset: int,
    limit: int,
    scope: ExamScope = EVERY_EXAM,
) -> list[ReviewRow]:
    query = _review_query().where(scope.covers(Candidate.exam_id))
    if status == "open":
        query = query.where(FaceReview.resolved_at.is_(None))
    elif status == "resolved":
        query = query.where(FaceReview.resolved_at.is_not(None))
    if exam_id is not None:
        query = query.where(Candidate.exam_id == exam_id)
    rows = await db.execute(query.order_by(FaceReview.opened_at, FaceReview.id).offset(offset).limit(limit))
    return [ReviewRow(*row) for row in rows]


async def get_review(db: AsyncSession, *, review_id: uuid.UUID, scope: ExamScope = EVERY_EXAM, for_update: bool = False) -> ReviewRow:
    query = _review_query().where(FaceReview.id == review_id, scope.covers(Candidate.exam_id))
    if for_update:
        # Two reviewers deciding at once: the second waits, then sees the first's decision (PostgreSQL; SQLite
        # serialises writers anyway and renders no FOR UPDATE).
        query = query.with_for_update(of=FaceReview)
    row = (await db.execute(query)).first()
    if row is None:
        raise errors.FaceReviewNotFound()
    return ReviewRow(*row)


async def review_attempts(db: AsyncSession, *, candidate_id: uuid.UUID) -> list[FaceCheck]:
    query = select(FaceCheck).where(FaceCheck.candidate_id == candidate_id, FaceCheck.purpose == FacePurpose.identity).order_by(FaceCheck.at, FaceCheck.id)
    return list((await db.scalars(query)).all())


async def decide(
    db: AsyncSession,
    *,
    review_id: uuid.UUID,
    decision: ReviewDecision,
    note: str,
    staff_id: uuid.UUID,
    actor: Actor,
    now: datetime,
    scope: ExamScope = EVERY_EXAM,
) -> ReviewRow:
    """A reviewer's decision: approve verifies the candidate's identity, reject stops self-service attempts."""
    row = await get_review(db, review_id=review_id, scope=scope, for_update=True)
    review = row.review
    if review.resolved_at is not None:
        raise errors.FaceReviewResolved(details={"decision": review.decision.value if review.decision else None})
    review.resolved_at, review.resolved_by, review.decision, review.note = now, staff_id, decision, note or None
    if decision is ReviewDecision.approve and row.candidate.identity_verified_at is None:
        row.candidate.identity_verified_at = now
    record(db, at=now, actor=actor, action="face.review.decide", target_kind="face_review", target_id=review.id, details={"candidate_id": str(row.candidate.id), "decision": decision.value, "note": note})
    await db.flush()
    return row


async def staff_image(
    db: AsyncSession, *, check_id: uuid.UUID, store: ObjectStore, actor: Actor, now: datetime, scope: ExamScope = EVERY_EXAM
) -> tuple[bytes, str]:
    """A check's capture, for a reviewer or proctor; every look at a biometric image is audited."""
    query = select(FaceCheck).join(Candidate, Candidate.id == FaceCheck.candidate_id).where(FaceCheck.id == check_id, scope.covers(Candidate.exam_id))
    check = await db.scalar(query)
    if check is None or check.image_key is None:
        raise errors.FaceCheckNotFound()
    return await _read_audited(db, store=store, key=check.image_key, actor=actor, now=now, target=("face_check", check.id), missing=errors.FaceCheckNotFound)


async def staff_id_photo(
    db: AsyncSession, *, candidate_id: uuid.UUID, store: ObjectStore, actor: Actor, now: datetime, scope: ExamScope = EVERY_EXAM
) -> tuple[bytes, str]:
    candidate = await db.scalar(select(Candidate).where(Candidate.id == candidate_id, scope.covers(Candidate.exam_id)))
    if candidate is None:
        raise errors.CandidateNotFound()
    if candidate.photo_key is None:
        raise errors.IdPhotoMissing()
    return await _read_audited(db, store=store, key=candidate.photo_key, actor=actor, now=now, target=("candidate", candidate.id), missing=errors.IdPhotoMissing)


async def _read_audited(
    db: AsyncSession,
    *,
    store: ObjectStore,
    key: str,
    actor: Actor,
    now: datetime,
    target: tuple[str, uuid.UUID],
    missing: type[errors.DualcamError],
) -> tuple[bytes, str]:
    try:
        data = await store.get(key)
    except ObjectNotFound as exc:
        raise missing() from exc
    record(db, at=now, actor=actor, action="face.image.view", target_kind=target[0], target_id=target[1], details={"image_key": key})
    return data, stored_type(data)
