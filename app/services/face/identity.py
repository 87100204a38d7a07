"""Identity verification (实名认证): a live selfie against the ID photo, and the candidate's own ID photo when ops
imported none."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import Candidate, EnrolmentSource, FaceCheck, FaceEnrolment, FacePurpose, FaceReview, ReviewDecision
from app.services.audit import Actor, record
from app.services.exam.exams import exam_timezone
from app.services.face.checks import counted_failure, enroll, recent_attempt, record_check, verify
from app.services.face.engine import FacePolicy, Faces, rate_limited
from app.services.face.enrolment import enrolment_for, new_enrolment
from app.services.face.reviews import latest_review, open_review
from app.services.images import stored_type


@dataclass(frozen=True, slots=True)
class IdentityAttempt:
    check: FaceCheck
    candidate: Candidate
    failures: int
    max_failures: int
    review: FaceReview | None
    timezone: str


@dataclass(frozen=True, slots=True)
class IdentityStatus:
    candidate: Candidate
    enrolment: FaceEnrolment | None
    failures: int
    max_failures: int
    review: FaceReview | None
    timezone: str


async def identity_selfie(db: AsyncSession, *, candidate: Candidate, image: bytes, faces: Faces, now: datetime) -> IdentityAttempt:
    """Compare a live selfie with the ID photo's enrolment. A match verifies the candidate; the
    `identity_max_failures`-th counted failure opens a manual review."""
    faces.throttle.hit(f"selfie:{candidate.id}", now=now, interval=faces.policy.min_interval)
    await _identity_open(db, candidate=candidate)
    await recent_attempt(db, faces, now, FaceCheck.candidate_id == candidate.id, FaceCheck.purpose == FacePurpose.identity)
    enrolment = await enrolment_for(db, candidate=candidate, faces=faces, now=now)
    result = await verify(faces.engine, image, enrolment, candidate=candidate)
    await _claim_attempt(db, candidate=candidate, faces=faces, now=now)
    check = await record_check(db, faces, candidate=candidate, purpose=FacePurpose.identity, result=result, image=image, now=now)
    actor = Actor("candidate", str(candidate.id))
    if check.passed:
        candidate.identity_verified_at = now
        record(db, at=now, actor=actor, action="face.identity.verified", target_kind="candidate", target_id=candidate.id, details={"check_id": str(check.id), "similarity": check.similarity, "pack": check.pack})
    failures = await identity_failures(db, candidate_id=candidate.id)
    review = None
    if check.counted and not check.passed and failures >= faces.policy.identity_max_failures:
        review = await open_review(db, candidate=candidate, failures=failures, now=now)
    return IdentityAttempt(check, candidate, failures, faces.policy.identity_max_failures, review, await exam_timezone(db, candidate.exam_id))


async def identity_status(db: AsyncSession, *, candidate: Candidate, policy: FacePolicy) -> IdentityStatus:
    enrolment = await db.scalar(
        select(FaceEnrolment).where(FaceEnrolment.candidate_id == candidate.id, FaceEnrolment.image_key == candidate.photo_key).limit(1)
    )
    return IdentityStatus(
        candidate, enrolment, await identity_failures(db, candidate_id=candidate.id), policy.identity_max_failures,
        await latest_review(db, candidate_id=candidate.id), await exam_timezone(db, candidate.exam_id),
    )  # fmt: skip


async def upload_id_photo(db: AsyncSession, *, candidate: Candidate, image: bytes, faces: Faces, now: datetime) -> IdentityStatus:
    """The candidate's own ID photo, when none was imported (or the imported one shows no usable face). A photo
    imported by ops is never replaced from the candidate's side; one the candidate uploaded may be, until verified."""
    faces.throttle.hit(f"id-photo:{candidate.id}", now=now, interval=faces.policy.min_interval)
    await _identity_open(db, candidate=candidate)
    if candidate.photo_key is not None and await _photo_locked(db, candidate=candidate, faces=faces, now=now):
        raise errors.IdPhotoLocked()
    enrolled = await enroll(faces.engine, image, candidate=candidate)
    if enrolled.embedding is None:
        raise errors.NoFaceFound()
    key = f"id-photos/{candidate.exam_id}/{candidate.id}.upload.{uuid.uuid4().hex}"
    await faces.store.put(key, image, content_type=stored_type(image))
    for old in (await db.scalars(select(FaceEnrolment).where(FaceEnrolment.candidate_id == candidate.id))).all():
        await db.delete(old)  # templates of the previous photo, whatever their pack
    await db.flush()
    enrolment = new_enrolment(candidate, enrolled, key=key, source=EnrolmentSource.candidate_upload, now=now)
    db.add(enrolment)
    candidate.photo_key = key
    await db.flush()
    record(db, at=now, actor=Actor("candidate", str(candidate.id)), action="face.id_photo.upload", target_kind="candidate", target_id=candidate.id, details={"image_key": key, "pack": enrolment.pack})
    return await identity_status(db, candidate=candidate, policy=faces.policy)


async def identity_failures(db: AsyncSession, *, candidate_id: uuid.UUID) -> int:
    failed = select(func.count()).select_from(FaceCheck).where(FaceCheck.candidate_id == candidate_id, *counted_failure(FacePurpose.identity))
    return (await db.scalar(failed)) or 0


async def _claim_attempt(db: AsyncSession, *, candidate: Candidate, faces: Faces, now: datetime) -> None:
    """Hold the candidate's attempt claim before the selfie is recorded, or be refused. One conditional update: of
    selfies judged at once (in any number of processes) one holds it and the others wait for its commit, so each
    sees the failures and the review before it; one that finds a selfie judged within `min_interval` is refused,
    as the throttle would have refused it in the same process."""
    interval = faces.policy.min_interval
    free = or_(Candidate.identity_attempt_at.is_(None), Candidate.identity_attempt_at <= now - interval, Candidate.identity_attempt_at > now)
    claimed = await db.scalar(update(Candidate).where(Candidate.id == candidate.id, free).values(identity_attempt_at=now).returning(Candidate.id))
    await db.refresh(candidate, ["identity_verified_at", "identity_attempt_at"])
    await _identity_open(db, candidate=candidate)  # the selfie judged first may have verified or sent to review
    if claimed is None:
        last = candidate.identity_attempt_at or now
        raise rate_limited(last + interval - now)


async def _identity_open(db: AsyncSession, *, candidate: Candidate) -> None:
    if candidate.identity_verified_at is not None:
        raise errors.IdentityAlreadyVerified()
    review = await latest_review(db, candidate_id=candidate.id)
    if review is not None and review.resolved_at is None:
        raise errors.FaceReviewPending()
    if review is not None and review.decision is ReviewDecision.reject:
        raise errors.IdentityRejected()


async def _photo_locked(db: AsyncSession, *, candidate: Candidate, faces: Faces, now: datetime) -> bool:
    source = await db.scalar(select(FaceEnrolment.source).where(FaceEnrolment.candidate_id == candidate.id, FaceEnrolment.image_key == candidate.photo_key).limit(1))
    if source is EnrolmentSource.candidate_upload:
        return False
    try:
        await enrolment_for(db, candidate=candidate, faces=faces, now=now)
    except (errors.IdPhotoUnusable, errors.IdPhotoMissing):
        return False  # an imported photo nobody can be verified against: the candidate may supply one
    return True
