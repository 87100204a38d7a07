"""Face verification in the exam: identity (实名认证) against the ID photo, the waiting-room gate, in-exam checks,
and the manual review queue.

The engine (app.face) knows nothing about exams; the rules are here. A capture with quality findings (dark, blurred,
several faces, ...) is coaching: recorded, answered with zh-CN/English hints, but not *counted* as a failed
comparison. Counted failures drive the limits: N failed selfies open a manual review; a few failed gate checks in a
row start a cool-down. Every check is recorded with its image in the object store; images and embeddings never go to
the logs. Bad input (not an image, truncated, a decompression bomb) is refused before anything is stored.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.adapters.storage import ObjectNotFound, ObjectStore
from app.config import Settings
from app.face import FaceError, FaceInputError, ModelsMissing
from app.face.packs import PackSpec, get_pack, pack_dir
from app.logs import get_logger
from app.models import (
    Candidate,
    Device,
    DeviceRole,
    EnrolmentSource,
    Exam,
    FaceCheck,
    FaceEnrolment,
    FacePurpose,
    FaceReview,
    ReviewDecision,
)
from app.services.sitting import presence, proctoring, sittings
from app.services.audit import Actor, record
from app.services.exam.candidates import SittingView
from app.services.sitting.lifecycle import FINAL_STATES, SittingState

if TYPE_CHECKING:
    from app.face.engine import AsyncFaceEngine, Enrollment, VerifyResult

log = get_logger(__name__)

# What a phone may send: what a browser's camera capture or canvas gives. The bytes are checked by the decoder
# anyway; the declared type is refused early so a wrong upload (a video, a HEIC file) gets a precise answer.
IMAGE_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/webp"})
MAX_IMAGE_BYTES = 10 * 1024 * 1024
REVIEW_REASON = "identity_failures"


class FacePort(Protocol):
    """What the exam flows need of the engine (app.face.engine.AsyncFaceEngine): a narrow port, so this module
    imports none of the heavy libraries and the API starts without them."""

    @property
    def spec(self) -> PackSpec: ...

    async def enroll(self, image: bytes) -> Enrollment: ...

    async def verify(self, probe: bytes, reference: np.ndarray) -> VerifyResult: ...


@dataclass(frozen=True, slots=True)
class FacePolicy:
    identity_max_failures: int
    gate_max_failures: int
    cooldown: timedelta
    min_interval: timedelta
    presence_timeout: timedelta

    @classmethod
    def of(cls, settings: Settings) -> FacePolicy:
        return cls(
            identity_max_failures=settings.face_identity_max_failures,
            gate_max_failures=settings.face_gate_max_failures,
            cooldown=timedelta(seconds=settings.face_cooldown_seconds),
            min_interval=timedelta(seconds=settings.face_min_interval_seconds),
            presence_timeout=timedelta(seconds=settings.presence_timeout_seconds),
        )


class Throttle:
    """At most one face request per key (a phone, a candidate's selfies) per interval, in this process.

    The first line against a flood: it holds before the previous attempt's row exists (inference takes tens of ms),
    and for bad input, which leaves no row. The database check (`_recent_attempt`) covers several processes.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self._last: dict[str, datetime] = {}
        self._max_keys = max_keys

    def hit(self, key: str, *, now: datetime, interval: timedelta) -> None:
        last = self._last.get(key)
        if last is not None and last <= now < last + interval:
            raise _rate_limited(last + interval - now)
        if len(self._last) >= self._max_keys:
            self._last = {k: t for k, t in self._last.items() if t + interval > now}
        self._last[key] = now


@dataclass(frozen=True, slots=True)
class Faces:
    """Everything a face flow needs besides the session: engine, object store, limits, and the throttle."""

    engine: FacePort
    store: ObjectStore
    policy: FacePolicy
    throttle: Throttle


async def open_engine(settings: Settings) -> AsyncFaceEngine | None:
    """Load the configured pack once per process; None (and a clear error in the log) when it cannot be: the API
    still starts, and face endpoints answer 503 face_models_missing until ops fetch the models and restart."""
    directory = settings.resolved_face_model_dir
    try:
        spec = get_pack(settings.face_pack)
        absent = [f.name for f in spec.files if not (pack_dir(directory, spec.name) / f.name).is_file()]
        if absent:
            # Checked before importing the engine: cv2, onnxruntime and insightface cost ~2 s of start-up.
            raise ModelsMissing(f"{pack_dir(directory, spec.name)}: missing {', '.join(absent)}")
        from app.face.engine import AsyncFaceEngine

        return await AsyncFaceEngine.load(directory, settings.face_pack, max_pending=settings.face_max_pending)
    except Exception as exc:  # a missing or broken pack must not keep the rest of the API down
        log.error(
            "face.engine.unavailable",
            pack=settings.face_pack,
            model_dir=str(directory),
            code=getattr(exc, "code", type(exc).__name__),
            detail=str(exc),
            fix=f"dualcam models fetch --pack {settings.face_pack} (or set DUALCAM_FACE_MODEL_DIR), then restart",
        )
        return None


def close_engine(engine: AsyncFaceEngine | None) -> None:
    if engine is not None:
        engine.close()


def check_image_type(content_type: str | None) -> None:
    if (content_type or "").split(";")[0].strip().lower() not in IMAGE_TYPES:
        raise errors.ImageTypeUnsupported(details={"content_type": content_type})


# --- identity (实名认证) ---------------------------------------------------------------------------------------------


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
    await _recent_attempt(db, faces, now, FaceCheck.candidate_id == candidate.id, FaceCheck.purpose == FacePurpose.identity)
    enrolment = await enrolment_for(db, candidate=candidate, faces=faces, now=now)
    result = await _verify(faces.engine, image, enrolment)
    check = await _record(db, faces, candidate=candidate, purpose=FacePurpose.identity, result=result, image=image, now=now)
    actor = Actor("candidate", str(candidate.id))
    if check.passed:
        candidate.identity_verified_at = now
        record(db, at=now, actor=actor, action="face.identity.verified", target_kind="candidate", target_id=candidate.id, details={"check_id": str(check.id), "similarity": check.similarity, "pack": check.pack})
    failures = await identity_failures(db, candidate_id=candidate.id)
    review = None
    if check.counted and not check.passed and failures >= faces.policy.identity_max_failures:
        review = await _open_review(db, candidate=candidate, failures=failures, now=now)
    return IdentityAttempt(check, candidate, failures, faces.policy.identity_max_failures, review, await _timezone(db, candidate))


async def identity_status(db: AsyncSession, *, candidate: Candidate, policy: FacePolicy) -> IdentityStatus:
    enrolment = await db.scalar(
        select(FaceEnrolment).where(FaceEnrolment.candidate_id == candidate.id, FaceEnrolment.image_key == candidate.photo_key).limit(1)
    )
    return IdentityStatus(
        candidate, enrolment, await identity_failures(db, candidate_id=candidate.id), policy.identity_max_failures,
        await _latest_review(db, candidate_id=candidate.id), await _timezone(db, candidate),
    )  # fmt: skip


async def upload_id_photo(db: AsyncSession, *, candidate: Candidate, image: bytes, faces: Faces, now: datetime) -> IdentityStatus:
    """The candidate's own ID photo, when none was imported (or the imported one shows no usable face). A photo
    imported by ops is never replaced from the candidate's side; one the candidate uploaded may be, until verified."""
    faces.throttle.hit(f"id-photo:{candidate.id}", now=now, interval=faces.policy.min_interval)
    await _identity_open(db, candidate=candidate)
    if candidate.photo_key is not None and await _photo_locked(db, candidate=candidate, faces=faces, now=now):
        raise errors.IdPhotoLocked()
    enrolled = await _enroll(faces.engine, image)
    if enrolled.embedding is None:
        raise errors.NoFaceFound()
    key = f"id-photos/{candidate.exam_id}/{candidate.id}.upload.{uuid.uuid4().hex}"
    await faces.store.put(key, image, content_type=_content_type(image))
    for old in (await db.scalars(select(FaceEnrolment).where(FaceEnrolment.candidate_id == candidate.id))).all():
        await db.delete(old)  # templates of the previous photo, whatever their pack
    await db.flush()
    enrolment = _enrolment(candidate, enrolled, key=key, source=EnrolmentSource.candidate_upload, now=now)
    db.add(enrolment)
    candidate.photo_key = key
    await db.flush()
    record(db, at=now, actor=Actor("candidate", str(candidate.id)), action="face.id_photo.upload", target_kind="candidate", target_id=candidate.id, details={"image_key": key, "pack": enrolment.pack})
    return await identity_status(db, candidate=candidate, policy=faces.policy)


async def identity_failures(db: AsyncSession, *, candidate_id: uuid.UUID) -> int:
    failed = select(func.count()).select_from(FaceCheck).where(FaceCheck.candidate_id == candidate_id, *_counted_failure(FacePurpose.identity))
    return (await db.scalar(failed)) or 0


async def _identity_open(db: AsyncSession, *, candidate: Candidate) -> None:
    if candidate.identity_verified_at is not None:
        raise errors.IdentityAlreadyVerified()
    review = await _latest_review(db, candidate_id=candidate.id)
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


# --- enrolment -------------------------------------------------------------------------------------------------------


async def enrolment_for(db: AsyncSession, *, candidate: Candidate, faces: Faces, now: datetime) -> FaceEnrolment:
    """The template of the candidate's ID photo for the engine's pack, enrolled on first use (an imported photo, or
    a pack switched since): a template of another pack cannot be compared."""
    pack = faces.engine.spec.name
    found = await db.scalar(select(FaceEnrolment).where(FaceEnrolment.candidate_id == candidate.id, FaceEnrolment.pack == pack))
    if found is not None and found.image_key == candidate.photo_key:
        return found
    if candidate.photo_key is None:
        raise errors.IdPhotoMissing()
    try:
        data = await faces.store.get(candidate.photo_key)
    except ObjectNotFound as exc:
        raise errors.IdPhotoMissing() from exc
    try:
        enrolled = await _enroll(faces.engine, data)
    except errors.DualcamError as exc:
        if exc.status == 503:
            raise
        raise errors.IdPhotoUnusable(details={"reason": exc.code}) from exc
    if enrolled.embedding is None:
        raise errors.IdPhotoUnusable(details={"reason": "no_face"})
    same_photo = select(FaceEnrolment.source).where(FaceEnrolment.candidate_id == candidate.id, FaceEnrolment.image_key == candidate.photo_key).limit(1)
    source = (await db.scalar(same_photo)) or EnrolmentSource.id_photo
    if found is not None:
        await db.delete(found)
        await db.flush()
    enrolment = _enrolment(candidate, enrolled, key=candidate.photo_key, source=source, now=now)
    try:
        async with db.begin_nested():
            db.add(enrolment)
    except IntegrityError:
        # A concurrent request of the same candidate enrolled first: use its template.
        return await db.scalar(select(FaceEnrolment).where(FaceEnrolment.candidate_id == candidate.id, FaceEnrolment.pack == pack))  # type: ignore[return-value]
    log.info("face.enrol.done", candidate_id=str(candidate.id), pack=pack, source=source.value, faces=enrolled.faces)
    return enrolment


def _enrolment(candidate: Candidate, enrolled: Enrollment, *, key: str, source: EnrolmentSource, now: datetime) -> FaceEnrolment:
    assert enrolled.embedding is not None
    vector = np.asarray(enrolled.embedding, dtype="<f4")
    return FaceEnrolment(
        candidate_id=candidate.id, pack=enrolled.pack, embedding=vector.tobytes(), dimension=int(vector.size), source=source,
        image_key=key, faces=enrolled.faces, findings=[f.to_dict() for f in enrolled.findings], enrolled_at=now,
    )  # fmt: skip


# --- the waiting-room gate ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateAttempt:
    check: FaceCheck
    state: SittingState
    failures_in_row: int
    cooldown_until: datetime | None
    timezone: str


async def waiting_gate(
    db: AsyncSession, *, device: Device, candidate: Candidate, image: bytes, faces: Faces, now: datetime
) -> GateAttempt:
    """The main phone's live capture during the waiting window, against the enrolment. A pass is the face half of
    `ready` (presence.face_passed adds both phones online); `gate_max_failures` counted failures in a row start a
    cool-down."""
    _main_only(device)
    faces.throttle.hit(f"device:{device.id}", now=now, interval=faces.policy.min_interval)
    view = await sittings.get_sitting_for_device(db, device=device, now=now)
    _gate_open(view)
    if candidate.identity_verified_at is None:
        raise errors.IdentityNotVerified()
    streak, last_failure = await _failure_streak(db, sitting_id=view.sitting.id)
    cooldown_until = _cooldown_until(streak, last_failure, faces.policy)
    if cooldown_until is not None and now < cooldown_until:
        wait = cooldown_until - now
        raise errors.FaceCooldown(details={"until": cooldown_until.isoformat(), "retry_after": _seconds(wait)}, headers={"Retry-After": str(_seconds(wait))})
    await _recent_attempt(db, faces, now, FaceCheck.device_id == device.id)
    enrolment = await enrolment_for(db, candidate=candidate, faces=faces, now=now)
    result = await _verify(faces.engine, image, enrolment)
    check = await _record(db, faces, candidate=candidate, purpose=FacePurpose.waiting, result=result, image=image, now=now, view=view, device=device)
    state = view.state
    if check.passed:
        streak, state = 0, await presence.face_passed(db, view=view, now=now, timeout=faces.policy.presence_timeout)
    elif check.counted:
        streak += 1
    until = _cooldown_until(streak, now, faces.policy) if check.counted and not check.passed else None
    return GateAttempt(check, state, streak, until, await _timezone(db, candidate))


def _gate_open(view: SittingView) -> None:
    if view.state in (SittingState.waiting, SittingState.ready):
        return
    if view.state in FINAL_STATES:
        raise errors.SittingClosed()
    if view.state is SittingState.scheduled:
        raise errors.FaceGateClosed(details={"opens_at": view.windows.waiting_opens_at.isoformat()})
    raise errors.FaceGateClosed(details={"closed_at": view.windows.answer_starts_at.isoformat()})


async def _failure_streak(db: AsyncSession, *, sitting_id: uuid.UUID) -> tuple[int, datetime | None]:
    """Counted gate failures since the last pass, and when the latest was."""
    rows = (
        await db.execute(
            select(FaceCheck.passed, FaceCheck.at)
            .where(FaceCheck.sitting_id == sitting_id, FaceCheck.purpose == FacePurpose.waiting, FaceCheck.counted.is_(True))
            .order_by(FaceCheck.at.desc(), FaceCheck.id)
            .limit(100)
        )
    ).all()
    streak = 0
    for passed, _ in rows:
        if passed:
            break
        streak += 1
    return streak, rows[0].at if streak else None


def _cooldown_until(streak: int, last_failure: datetime | None, policy: FacePolicy) -> datetime | None:
    """Every `gate_max_failures`-th failure in a row starts a cool-down (3 → wait, 3 more → wait again)."""
    if last_failure is None or streak == 0 or streak % policy.gate_max_failures or not policy.cooldown:
        return None
    return last_failure + policy.cooldown


# --- in-exam checks (for proctoring) -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InExamCheck:
    check: FaceCheck
    events: list[str]


async def in_exam_check(
    db: AsyncSession, *, device: Device, candidate: Candidate, image: bytes, faces: Faces, now: datetime
) -> InExamCheck:
    """A frame from the main phone while answering: face count and match, recorded as proctoring events
    (face_absent, several_faces, different_person) for the proctors; it never stops the sitting by itself."""
    _main_only(device)
    faces.throttle.hit(f"device:{device.id}", now=now, interval=faces.policy.min_interval)
    view = await sittings.get_sitting_for_device(db, device=device, now=now)
    if view.state in FINAL_STATES:
        raise errors.SittingClosed()
    if view.state is not SittingState.answering:
        raise errors.FaceCheckClosed()
    await _recent_attempt(db, faces, now, FaceCheck.device_id == device.id)
    enrolment = await enrolment_for(db, candidate=candidate, faces=faces, now=now)
    result = await _verify(faces.engine, image, enrolment)
    check = await _record(db, faces, candidate=candidate, purpose=FacePurpose.in_exam, result=result, image=image, now=now, view=view, device=device)
    events = proctor_events(check)
    for kind in events:
        details = {"check_id": str(check.id), "faces": check.faces, "similarity": check.similarity, "threshold": check.threshold}
        proctoring.record(db, sitting_id=view.sitting.id, device_id=device.id, source="server", kind=kind, now=now, details=details)
    return InExamCheck(check, events)


def proctor_events(check: FaceCheck) -> list[str]:
    events = []
    if check.faces == 0:
        events.append("face_absent")
    if check.faces > 1:
        events.append("several_faces")
    # A non-match says "someone else" only on a usable capture: a dark or blurred frame is not evidence.
    quality = [f["code"] for f in check.findings if f["code"] != "several_faces"]
    if check.similarity is not None and not check.match and not quality:
        events.append("different_person")
    return events


# --- manual review -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewRow:
    review: FaceReview
    candidate: Candidate
    timezone: str
    failures: int


async def _open_review(db: AsyncSession, *, candidate: Candidate, failures: int, now: datetime) -> FaceReview:
    review = FaceReview(candidate_id=candidate.id, opened_at=now, reason=REVIEW_REASON)
    try:
        async with db.begin_nested():
            db.add(review)
    except IntegrityError:
        # A concurrent failure opened it first (one open review per candidate, a unique partial index).
        existing = await _latest_review(db, candidate_id=candidate.id)
        assert existing is not None
        return existing
    record(db, at=now, actor=Actor("system"), action="face.review.open", target_kind="face_review", target_id=review.id, details={"candidate_id": str(candidate.id), "failures": failures, "reason": REVIEW_REASON})
    log.info("face.review.opened", review_id=str(review.id), candidate_id=str(candidate.id), failures=failures)
    return review


async def _latest_review(db: AsyncSession, *, candidate_id: uuid.UUID) -> FaceReview | None:
    query = select(FaceReview).where(FaceReview.candidate_id == candidate_id).order_by(FaceReview.opened_at.desc(), FaceReview.id).limit(1)
    return await db.scalar(query)


def _review_query() -> Select[tuple[FaceReview, Candidate, str, int]]:
    """Reviews with their candidate, the exam's timezone and the candidate's counted failed selfies."""
    failed = (
        select(FaceCheck.candidate_id, func.count().label("failures"))
        .where(*_counted_failure(FacePurpose.identity))
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
    db: AsyncSession, *, status: Literal["open", "resolved", "all"], exam_id: uuid.UUID | None, offset: int, limit: int
) -> list[ReviewRow]:
    query = _review_query()
    if status == "open":
        query = query.where(FaceReview.resolved_at.is_(None))
    elif status == "resolved":
        query = query.where(FaceReview.resolved_at.is_not(None))
    if exam_id is not None:
        query = query.where(Candidate.exam_id == exam_id)
    rows = await db.execute(query.order_by(FaceReview.opened_at, FaceReview.id).offset(offset).limit(limit))
    return [ReviewRow(*row) for row in rows]


async def get_review(db: AsyncSession, *, review_id: uuid.UUID, for_update: bool = False) -> ReviewRow:
    query = _review_query().where(FaceReview.id == review_id)
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
    db: AsyncSession, *, review_id: uuid.UUID, decision: ReviewDecision, note: str, staff_id: uuid.UUID, actor: Actor, now: datetime
) -> ReviewRow:
    """A reviewer's decision: approve verifies the candidate's identity, reject stops self-service attempts."""
    row = await get_review(db, review_id=review_id, for_update=True)
    review = row.review
    if review.resolved_at is not None:
        raise errors.FaceReviewResolved(details={"decision": review.decision.value if review.decision else None})
    review.resolved_at, review.resolved_by, review.decision, review.note = now, staff_id, decision, note or None
    if decision is ReviewDecision.approve and row.candidate.identity_verified_at is None:
        row.candidate.identity_verified_at = now
    record(db, at=now, actor=actor, action="face.review.decide", target_kind="face_review", target_id=review.id, details={"candidate_id": str(row.candidate.id), "decision": decision.value, "note": note})
    await db.flush()
    return row


async def staff_image(db: AsyncSession, *, check_id: uuid.UUID, store: ObjectStore, actor: Actor, now: datetime) -> tuple[bytes, str]:
    """A check's capture, for a reviewer or proctor; every look at a biometric image is audited."""
    check = await db.get(FaceCheck, check_id)
    if check is None or check.image_key is None:
        raise errors.FaceCheckNotFound()
    return await _read_audited(db, store=store, key=check.image_key, actor=actor, now=now, target=("face_check", check.id), missing=errors.FaceCheckNotFound)


async def staff_id_photo(db: AsyncSession, *, candidate_id: uuid.UUID, store: ObjectStore, actor: Actor, now: datetime) -> tuple[bytes, str]:
    candidate = await db.get(Candidate, candidate_id)
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
    return data, _content_type(data)


# --- shared steps --------------------------------------------------------------------------------------------------


def _main_only(device: Device) -> None:
    if device.role is not DeviceRole.main:
        raise errors.MainDeviceOnly()  # the aux phone films the room from behind: no face to check


def _counted_failure(purpose: FacePurpose) -> tuple[ColumnElement[bool], ...]:
    return (FaceCheck.purpose == purpose, FaceCheck.counted.is_(True), FaceCheck.passed.is_(False))


async def _recent_attempt(db: AsyncSession, faces: Faces, now: datetime, *where: ColumnElement[bool]) -> None:
    """The same limit as the throttle, from the recorded attempts: holds across processes."""
    interval = faces.policy.min_interval
    if not interval:
        return
    last = await db.scalar(select(func.max(FaceCheck.at)).where(*where))
    if last is not None and last <= now < last + interval:
        raise _rate_limited(last + interval - now)


def _rate_limited(wait: timedelta) -> errors.DualcamError:
    return errors.FaceRateLimited(details={"retry_after": _seconds(wait)}, headers={"Retry-After": str(_seconds(wait))})


def _seconds(wait: timedelta) -> int:
    return max(1, math.ceil(wait.total_seconds()))


async def _enroll(engine: FacePort, image: bytes) -> Enrollment:
    try:
        return await engine.enroll(image)
    except FaceError as exc:
        _log_face_error("enroll", exc)
        raise errors.face_error(exc) from exc


async def _verify(engine: FacePort, image: bytes, enrolment: FaceEnrolment) -> VerifyResult:
    reference = np.frombuffer(enrolment.embedding, dtype="<f4")
    try:
        return await engine.verify(image, reference)
    except FaceError as exc:
        _log_face_error("verify", exc)
        raise errors.face_error(exc) from exc


def _log_face_error(step: str, exc: FaceError) -> None:
    if isinstance(exc, FaceInputError):
        log.info(f"face.{step}.refused", code=exc.code, detail=exc.detail)
    else:
        log.warning(f"face.{step}.unavailable", code=exc.code, detail=exc.detail)


async def _record(
    db: AsyncSession,
    faces: Faces,
    *,
    candidate: Candidate,
    purpose: FacePurpose,
    result: VerifyResult,
    image: bytes,
    now: datetime,
    view: SittingView | None = None,
    device: Device | None = None,
) -> FaceCheck:
    """Store the capture and its check. Findings make an attempt coaching: neither passed nor counted."""
    counted = not result.findings
    check = FaceCheck(
        id=uuid.uuid4(), candidate_id=candidate.id, sitting_id=view.sitting.id if view else None, device_id=device.id if device else None,
        purpose=purpose, similarity=None if result.similarity is None else round(result.similarity, 4), threshold=result.threshold,
        pack=result.pack, faces=result.faces, match=result.match, passed=counted and result.match, counted=counted,
        findings=[f.to_dict() for f in result.findings], at=now,
    )  # fmt: skip
    check.image_key = f"faces/{candidate.exam_id}/{candidate.id}/{check.id}"
    await faces.store.put(check.image_key, image, content_type=_content_type(image))
    db.add(check)
    await db.flush()
    log.info(
        "face.check.recorded", check_id=str(check.id), candidate_id=str(candidate.id), purpose=purpose.value,
        passed=check.passed, counted=check.counted, similarity=check.similarity, faces=check.faces,
        findings=[f.code for f in result.findings],
    )  # fmt: skip
    return check


def _content_type(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


async def _timezone(db: AsyncSession, candidate: Candidate) -> str:
    return (await db.scalar(select(Exam.timezone).where(Exam.id == candidate.exam_id))) or "Asia/Shanghai"
