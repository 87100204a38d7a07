"""The template of a candidate's ID photo for the engine's pack."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.adapters.storage import ObjectNotFound
from app.logs import get_logger
from app.models import Candidate, EnrolmentSource, FaceEnrolment
from app.services.face.checks import enroll
from app.services.face.engine import Faces

if TYPE_CHECKING:
    from app.face.engine import Enrollment

log = get_logger(__name__)


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
        enrolled = await enroll(faces.engine, data, candidate=candidate)
    except errors.DualcamError as exc:
        if exc.status == 503 or exc.status == 429:
            raise  # the engine's state (busy, the candidate's other picture pending), not the photo's
        raise errors.IdPhotoUnusable(details={"reason": exc.code}) from exc
    if enrolled.embedding is None:
        raise errors.IdPhotoUnusable(details={"reason": "no_face"})
    same_photo = select(FaceEnrolment.source).where(FaceEnrolment.candidate_id == candidate.id, FaceEnrolment.image_key == candidate.photo_key).limit(1)
    source = (await db.scalar(same_photo)) or EnrolmentSource.id_photo
    if found is not None:
        await db.delete(found)
        await db.flush()
    enrolment = new_enrolment(candidate, enrolled, key=candidate.photo_key, source=source, now=now)
    try:
        async with db.begin_nested():
            db.add(enrolment)
    except IntegrityError:
        # A concurrent request of the same candidate enrolled first: use its template.
        return await db.scalar(select(FaceEnrolment).where(FaceEnrolment.candidate_id == candidate.id, FaceEnrolment.pack == pack))  # type: ignore[return-value]
    log.info("face.enrol.done", candidate_id=str(candidate.id), pack=pack, source=source.value, faces=enrolled.faces)
    return enrolment


def new_enrolment(candidate: Candidate, enrolled: Enrollment, *, key: str, source: EnrolmentSource, now: datetime) -> FaceEnrolment:
    assert enrolled.embedding is not None
    vector = np.asarray(enrolled.embedding, dtype="<f4")
    return FaceEnrolment(
        candidate_id=candidate.id, pack=enrolled.pack, embedding=vector.tobytes(), dimension=int(vector.size), source=source,
        image_key=key, faces=enrolled.faces, findings=[f.to_dict() for f in enrolled.findings], enrolled_at=now,
    )  # fmt: skip
