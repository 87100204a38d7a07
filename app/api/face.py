"""Face verification: identity (实名认证) for candidates, the waiting-room gate and in-exam checks for the main
phone, and the manual review queue for ops and reviewers."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile

from app import errors
from app.api.deps import DB, CandidateUser, MainDevice, Now, Scope, Staff, Store, client_quota
from app.api import pictures
from app.schemas.face import (
    FaceDecisionIn,
    FaceReviewDetailOut,
    FaceReviewOut,
    GateAttemptOut,
    IdentityAttemptOut,
    IdentityOut,
    InExamCheckOut,
)
from app.services import images
from app.services.face import engine, gate, in_exam, reviews
from app.services.face import identity as identity_flow
from app.services.flags import live

router = APIRouter(prefix="/api/v1")


def _policy(request: Request) -> engine.FacePolicy:
    return engine.FacePolicy.of(request.app.state.settings)


def _faces(request: Request, policy: Annotated[engine.FacePolicy, Depends(_policy)]) -> engine.Faces:
    loaded = request.app.state.face
    if loaded is None:
        raise errors.FaceModelsMissing()  # the reason is in the log of the start (face.engine.unavailable)
    return engine.Faces(loaded, request.app.state.store, policy, request.app.state.face_throttle)


async def _image(image: Annotated[UploadFile, File(description="JPEG, PNG or WebP, at most 10 MB")]) -> bytes:
    images.check_declared_type(image.content_type)
    data = await image.read(images.MAX_IMAGE_BYTES + 1)
    if len(data) > images.MAX_IMAGE_BYTES:
        raise errors.PayloadTooLarge()
    return data


Policy = Annotated[engine.FacePolicy, Depends(_policy)]
Faces = Annotated[engine.Faces, Depends(_faces)]
Image = Annotated[bytes, Depends(_image)]

# Bad pictures are refused (nothing stored) with these; a picture that decodes always gets a 200 with findings.
_IMAGE_ERRORS = (errors.ImageTypeUnsupported, errors.PayloadTooLarge, *errors.FACE_INPUT_ERRORS, errors.FaceRateLimited, *errors.FACE_UNAVAILABLE)
_ENROLMENT_ERRORS = (errors.IdPhotoMissing, errors.IdPhotoUnusable, errors.FACE_ERRORS["face_embedding_mismatch"])
_IDENTITY_CLOSED = (errors.IdentityAlreadyVerified, errors.FaceReviewPending, errors.IdentityRejected)
_DEVICE_ERRORS = (errors.MainDeviceOnly, errors.SittingNotFound, errors.SittingClosed)
# Per client address: many accounts from one client cannot take turns at the engine (each account alone is held to
# one picture a second by the throttle, and to one in the engine at a time). Not on the phones' checks: they need a
# paired main phone of a sitting in its window, and every phone of an exam room behind one address sends them.
_UPLOAD_QUOTA = Depends(client_quota("face_uploads"))
_IMAGE_200 = {200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}, "description": "The picture"}}


@router.get("/candidate/identity", response_model=IdentityOut, tags=["candidate: identity"])
async def identity(principal: CandidateUser, db: DB, policy: Policy) -> IdentityOut:
    """Identity verification (实名认证) status: ID photo, verified or not, failures, manual review."""
    assert principal.candidate is not None
    return IdentityOut.of(await identity_flow.identity_status(db, candidate=principal.candidate, policy=policy))


@router.put(
    "/candidate/id-photo",
    response_model=IdentityOut,
    tags=["candidate: identity"],
    dependencies=[_UPLOAD_QUOTA],
    responses=errors.responses(*_IDENTITY_CLOSED, errors.IdPhotoLocked, errors.NoFaceFound, *_IMAGE_ERRORS, errors.ClientRateLimited),
)
async def upload_id_photo(principal: CandidateUser, db: DB, now: Now, faces: Faces, image: Image) -> IdentityOut:
    """Upload the ID photo (证件照) when ops imported none; it must show one face. An imported photo cannot be replaced."""
    assert principal.candidate is not None
    return IdentityOut.of(await identity_flow.upload_id_photo(db, candidate=principal.candidate, image=image, faces=faces, now=now))


@router.post(
    "/candidate/identity/selfie",
    response_model=IdentityAttemptOut,
    tags=["candidate: identity"],
    dependencies=[_UPLOAD_QUOTA],
    responses=errors.responses(*_IDENTITY_CLOSED, *_ENROLMENT_ERRORS, *_IMAGE_ERRORS, errors.ClientRateLimited),
)
async def identity_selfie(principal: CandidateUser, db: DB, now: Now, faces: Faces, image: Image) -> IdentityAttemptOut:
    """A live selfie against the ID photo. Quality problems answer `counted: false` with hints; after N counted
    failures a reviewer decides (manual review)."""
    assert principal.candidate is not None
    attempt = await identity_flow.identity_selfie(db, candidate=principal.candidate, image=image, faces=faces, now=now)
    return IdentityAttemptOut.of(attempt)


@router.post(
    "/device/face",
    response_model=GateAttemptOut,
    tags=["device"],
    responses=errors.responses(*_DEVICE_ERRORS, errors.FaceGateClosed, errors.IdentityNotVerified, errors.FaceCooldown, *_ENROLMENT_ERRORS, *_IMAGE_ERRORS),
)
async def waiting_gate(principal: MainDevice, db: DB, now: Now, faces: Faces, image: Image) -> GateAttemptOut:
    """Main phone, waiting window: a live capture against the enrolment; a pass with both phones online makes the
    sitting `ready`. Three counted failures in a row: a cool-down (429 with Retry-After)."""
    assert principal.device is not None and principal.candidate is not None
    attempt = await gate.waiting_gate(db, device=principal.device, candidate=principal.candidate, image=image, faces=faces, now=now)
    return GateAttemptOut.of(attempt)


@router.post(
    "/device/face/check",
    response_model=InExamCheckOut,
    tags=["device"],
    responses=errors.responses(*_DEVICE_ERRORS, errors.FaceCheckClosed, *_ENROLMENT_ERRORS, *_IMAGE_ERRORS),
)
async def in_exam_check(principal: MainDevice, db: DB, now: Now, faces: Faces, image: Image) -> InExamCheckOut:
    """Main phone, while answering: a still checked for face count and match; face_absent, several_faces and
    different_person are recorded as proctoring events and as `live` flags that ops see at once. The phone is told
    only whether a face was seen."""
    assert principal.device is not None and principal.candidate is not None
    result = await in_exam.in_exam_check(db, device=principal.device, candidate=principal.candidate, image=image, faces=faces, now=now)
    await live.record_live(db, result=result, now=now)
    return InExamCheckOut.of(result)


@router.get("/ops/face-reviews", response_model=list[FaceReviewOut], tags=["ops: face reviews"])
async def list_reviews(
    principal: Staff,
    scope: Scope,
    db: DB,
    status: Literal["open", "resolved", "all"] = "open",
    exam_id: uuid.UUID | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,  # unbounded, a huge offset overflows the database integer
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[FaceReviewOut]:
    """The manual review queue (oldest first): candidates whose selfies failed too often."""
    rows = await reviews.list_reviews(db, status=status, exam_id=exam_id, offset=offset, limit=limit, scope=scope)
    return [FaceReviewOut.of(row) for row in rows]


@router.get("/ops/face-reviews/{review_id}", response_model=FaceReviewDetailOut, tags=["ops: face reviews"], responses=errors.responses(errors.FaceReviewNotFound))
async def get_review(review_id: uuid.UUID, principal: Staff, scope: Scope, db: DB) -> FaceReviewDetailOut:
    """One review with every selfie attempt (links to the captures and the ID photo)."""
    row = await reviews.get_review(db, review_id=review_id, scope=scope)
    return FaceReviewDetailOut.of_detail(row, await reviews.review_attempts(db, candidate_id=row.candidate.id))


@router.post(
    "/ops/face-reviews/{review_id}/decision",
    response_model=FaceReviewOut,
    tags=["ops: face reviews"],
    responses=errors.responses(errors.FaceReviewNotFound, errors.FaceReviewResolved),
)
async def decide(review_id: uuid.UUID, body: FaceDecisionIn, principal: Staff, scope: Scope, db: DB, now: Now) -> FaceReviewOut:
    """Approve (the candidate's identity is verified) or reject (no more self-service attempts); audited."""
    assert principal.staff is not None
    row = await reviews.decide(
        db, review_id=review_id, decision=body.decision, note=body.note, staff_id=principal.staff.id, actor=principal.actor, now=now, scope=scope
    )
    return FaceReviewOut.of(row)


@router.get(
    "/ops/face-checks/{check_id}/image",
    response_class=Response,
    tags=["ops: face reviews"],
    responses={**_IMAGE_200, **errors.responses(errors.FaceCheckNotFound)},
)
async def check_image(check_id: uuid.UUID, principal: Staff, scope: Scope, db: DB, now: Now, store: Store) -> Response:
    """The capture of a face check (viewing is audited)."""
    data, media_type = await reviews.staff_image(db, check_id=check_id, store=store, actor=principal.actor, now=now, scope=scope)
    return pictures.picture(data, media_type)


@router.get(
    "/ops/candidates/{candidate_id}/id-photo",
    response_class=Response,
    tags=["ops: face reviews"],
    responses={**_IMAGE_200, **errors.responses(errors.CandidateNotFound, errors.IdPhotoMissing)},
)
async def id_photo(candidate_id: uuid.UUID, principal: Staff, scope: Scope, db: DB, now: Now, store: Store) -> Response:
    """A candidate's ID photo (viewing is audited)."""
    data, media_type = await reviews.staff_id_photo(db, candidate_id=candidate_id, store=store, actor=principal.actor, now=now, scope=scope)
    return pictures.picture(data, media_type)
