"""Steps every face flow shares: who may send a capture, the attempt limits across processes, calling the engine,
and recording a check with its image."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.face import FaceError, FaceInputError
from app.logs import get_logger
from app.models import Candidate, Device, DeviceRole, FaceCheck, FaceEnrolment, FacePurpose
from app.services.face.engine import FacePort, Faces, rate_limited
from app.services.images import stored_type
from app.services.sitting.sittings import SittingView

if TYPE_CHECKING:
    from app.face.engine import Enrollment, VerifyResult

log = get_logger(__name__)


def main_only(device: Device) -> None:
    if device.role is not DeviceRole.main:
        raise errors.MainDeviceOnly()  # the aux phone films the room from behind: no face to check


def counted_failure(purpose: FacePurpose) -> tuple[ColumnElement[bool], ...]:
    return (FaceCheck.purpose == purpose, FaceCheck.counted.is_(True), FaceCheck.passed.is_(False))


async def recent_attempt(db: AsyncSession, faces: Faces, now: datetime, *where: ColumnElement[bool]) -> None:
    """The same limit as the throttle, from the recorded attempts: holds across processes."""
    interval = faces.policy.min_interval
    if not interval:
        return
    last = await db.scalar(select(func.max(FaceCheck.at)).where(*where))
    if last is not None and last <= now < last + interval:
        raise rate_limited(last + interval - now)


def engine_key(candidate: Candidate) -> str:
    """Whose call it is, for the engine's one-call-at-a-time bound: the candidate, whichever phone or flow sends."""
    return f"candidate:{candidate.id}"


async def enroll(engine: FacePort, image: bytes, *, candidate: Candidate) -> Enrollment:
    try:
        return await engine.enroll(image, key=engine_key(candidate))
    except FaceError as exc:
        _log_face_error("enroll", exc)
        raise errors.face_error(exc) from exc


async def verify(engine: FacePort, image: bytes, enrolment: FaceEnrolment, *, candidate: Candidate) -> VerifyResult:
    reference = np.frombuffer(enrolment.embedding, dtype="<f4")
    try:
        return await engine.verify(image, reference, key=engine_key(candidate))
    except FaceError as exc:
        _log_face_error("verify", exc)
        raise errors.face_error(exc) from exc


def _log_face_error(step: str, exc: FaceError) -> None:
    if isinstance(exc, FaceInputError):
        log.info(f"face.{step}.refused", code=exc.code, detail=exc.detail)
    else:
        log.warning(f"face.{step}.unavailable", code=exc.code, detail=exc.detail)


async def record_check(
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
    await faces.store.put(check.image_key, image, content_type=stored_type(image))
    db.add(check)
    await db.flush()
    log.info(
        "face.check.recorded", check_id=str(check.id), candidate_id=str(candidate.id), purpose=purpose.value,
        passed=check.passed, counted=check.counted, similarity=check.similarity, faces=check.faces,
        findings=[f.code for f in result.findings],
    )  # fmt: skip
    return check
