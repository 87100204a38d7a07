"""Face verification: attempts with their coaching findings (zh-CN + English), identity status, review queue."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from app.models import EnrolmentSource, FaceCheck, FacePurpose, ReviewDecision
from app.schemas import Input, Output
from app.services.face.gate import GateAttempt
from app.services.face.identity import IdentityAttempt, IdentityStatus
from app.services.face.in_exam import InExamCheck
from app.services.face.reviews import ReviewRow
from app.services.sitting.lifecycle import SittingState
from app.services.timezones import to_local


class FindingOut(Output):
    """Something to fix in the capture before it can count: a stable code and a hint for the candidate."""

    code: str = Field(examples=["too_dark"], description="no_face | not_upright | several_faces | face_too_small | face_too_close | too_dark | backlit | blurred")
    message: str = Field(examples=["光线太暗，请到明亮处或打开灯光"])
    message_en: str = Field(examples=["Too dark: move somewhere brighter or turn on a light"])
    value: float | None = None
    limit: float | None = None


class FaceAttemptOut(Output):
    """One comparison with the enrolment. `passed`: a usable capture that matched. `counted`: false when findings
    made it coaching (fix the capture and retry) rather than a failed comparison."""

    check_id: uuid.UUID
    at: datetime
    passed: bool
    counted: bool
    match: bool
    similarity: float | None
    threshold: float
    pack: str
    faces: int
    findings: list[FindingOut]

    @classmethod
    def fields_of(cls, check: FaceCheck, timezone: str) -> dict[str, Any]:
        return {
            "check_id": check.id, "at": to_local(check.at, timezone), "passed": check.passed, "counted": check.counted,
            "match": check.match, "similarity": check.similarity, "threshold": check.threshold, "pack": check.pack,
            "faces": check.faces, "findings": [FindingOut(**f) for f in check.findings],
        }  # fmt: skip


class IdentityAttemptOut(FaceAttemptOut):
    identity_verified_at: datetime | None
    failures: int = Field(description="counted failed selfies so far")
    max_failures: int = Field(description="counted failures that send the candidate to manual review")
    review_pending: bool

    @classmethod
    def of(cls, attempt: IdentityAttempt) -> IdentityAttemptOut:
        return cls(
            **FaceAttemptOut.fields_of(attempt.check, attempt.timezone),
            identity_verified_at=to_local(attempt.candidate.identity_verified_at, attempt.timezone),
            failures=attempt.failures,
            max_failures=attempt.max_failures,
            review_pending=attempt.review is not None and attempt.review.resolved_at is None,
        )


class ReviewStateOut(Output):
    status: Literal["open", "resolved"]
    decision: ReviewDecision | None
    opened_at: datetime
    resolved_at: datetime | None


class IdentityOut(Output):
    """Where the candidate stands with identity verification (实名认证)."""

    identity_verified_at: datetime | None
    has_id_photo: bool
    id_photo_source: EnrolmentSource | None = Field(description="null until the photo was enrolled (first selfie or upload)")
    failures: int
    max_failures: int
    review: ReviewStateOut | None

    @classmethod
    def of(cls, status: IdentityStatus) -> IdentityOut:
        tz, review = status.timezone, status.review
        return cls(
            identity_verified_at=to_local(status.candidate.identity_verified_at, tz),
            has_id_photo=status.candidate.photo_key is not None,
            id_photo_source=status.enrolment.source if status.enrolment else None,
            failures=status.failures,
            max_failures=status.max_failures,
            review=None if review is None else ReviewStateOut(
                status="open" if review.resolved_at is None else "resolved", decision=review.decision,
                opened_at=to_local(review.opened_at, tz), resolved_at=to_local(review.resolved_at, tz),
            ),  # fmt: skip
        )


class GateAttemptOut(FaceAttemptOut):
    state: SittingState = Field(description="the sitting's state after this attempt (ready once both phones are online too)")
    failures_in_row: int
    cooldown_until: datetime | None = Field(description="set when this failure started a cool-down")

    @classmethod
    def of(cls, attempt: GateAttempt) -> GateAttemptOut:
        return cls(
            **FaceAttemptOut.fields_of(attempt.check, attempt.timezone),
            state=attempt.state,
            failures_in_row=attempt.failures_in_row,
            cooldown_until=to_local(attempt.cooldown_until, attempt.timezone),
        )


class InExamCheckOut(Output):
    """What the candidate's phone may know of its still: whether a face was seen (to hint "keep your face in view").
    Never a match, similarity or face count: those are for staff (the `live` flags and proctoring events)."""

    face_seen: bool = Field(description="at least one face in the still")

    @classmethod
    def of(cls, result: InExamCheck) -> InExamCheckOut:
        return cls(face_seen=result.check.faces > 0)


class FaceReviewOut(Output):
    id: uuid.UUID
    candidate_id: uuid.UUID
    candidate_name: str
    id_number_masked: str
    exam_id: uuid.UUID
    reason: str
    failures: int
    opened_at: datetime
    resolved_at: datetime | None
    resolved_by: uuid.UUID | None
    decision: ReviewDecision | None
    note: str | None

    @classmethod
    def fields_of(cls, row: ReviewRow) -> dict[str, Any]:
        r, c, tz = row.review, row.candidate, row.timezone
        return {
            "id": r.id, "candidate_id": c.id, "candidate_name": c.name, "id_number_masked": c.id_number_masked,
            "exam_id": c.exam_id, "reason": r.reason, "failures": row.failures, "opened_at": to_local(r.opened_at, tz),
            "resolved_at": to_local(r.resolved_at, tz), "resolved_by": r.resolved_by, "decision": r.decision, "note": r.note,
        }  # fmt: skip

    @classmethod
    def of(cls, row: ReviewRow) -> FaceReviewOut:
        return cls(**cls.fields_of(row))


class ReviewAttemptOut(FaceAttemptOut):
    purpose: FacePurpose
    image_url: str = Field(description="the capture, for staff (viewing is audited)")


class FaceReviewDetailOut(FaceReviewOut):
    has_id_photo: bool
    id_photo_url: str | None
    attempts: list[ReviewAttemptOut]

    @classmethod
    def of_detail(cls, row: ReviewRow, attempts: list[FaceCheck]) -> FaceReviewDetailOut:
        has_photo = row.candidate.photo_key is not None
        return cls(
            **cls.fields_of(row),
            has_id_photo=has_photo,
            id_photo_url=f"/api/v1/ops/candidates/{row.candidate.id}/id-photo" if has_photo else None,
            attempts=[
                ReviewAttemptOut(
                    **FaceAttemptOut.fields_of(a, row.timezone), purpose=a.purpose, image_url=f"/api/v1/ops/face-checks/{a.id}/image"
                )
                for a in attempts
            ],
        )


class FaceDecisionIn(Input):
    decision: ReviewDecision
    note: str = Field(default="", max_length=500, description="why (kept in the audit log)")
