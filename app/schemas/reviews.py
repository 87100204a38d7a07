"""The conduct review as staff send and read it (times in the exam's offset)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from app.models import Decision, DecisionStatus, DeviceRole, FaceCheck, FacePurpose, FlagVerdict, Incident, Outcome, StaffUser, Verdict
from app.schemas import Output
from app.services.review.claims import Holder
from app.services.review.reasons import ReasonCode
from app.services.review.sheet import Sheet
from app.services.sitting.lifecycle import SittingState
from app.services.timezones import to_local

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Code = Annotated[str, StringConstraints(max_length=32)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerdictIn(_In):
    verdict: Verdict
    note: Note | None = None


class IncidentIn(_In):
    offset_s: float = Field(description="seconds from answer start (the player's position)", allow_inf_nan=False)
    role: DeviceRole | None = Field(default=None, description="the phone whose video shows it, if one")
    reason_code: Code = Field(description="one of GET /api/v1/ops/review/reason-codes")
    note: Note | None = None


class DecisionIn(_In):
    outcome: Outcome
    reason_codes: list[Code] = Field(default_factory=list, max_length=20, description="required for a violation")
    note: Note | None = None


class SecondIn(_In):
    agrees: bool = Field(description="true: the violation takes effect; false: the sitting goes to ops")
    note: Note | None = None


class ReopenIn(_In):
    note: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] = Field(description="why (an appeal, a mistake)")


class StaffRefOut(Output):
    id: uuid.UUID
    username: str
    display_name: str

    @classmethod
    def of(cls, staff: StaffUser | None) -> StaffRefOut | None:
        return None if staff is None else cls(id=staff.id, username=staff.username, display_name=staff.display_name)


class ClaimOut(Output):
    staff: StaffRefOut
    claimed_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, holder: Holder, timezone: str) -> ClaimOut:
        staff = StaffRefOut(id=holder.staff_id, username=holder.username, display_name=holder.display_name)
        return cls(staff=staff, claimed_at=to_local(holder.claimed_at, timezone), expires_at=to_local(holder.expires_at, timezone))


class VerdictOut(Output):
    flag_id: uuid.UUID
    verdict: Verdict
    note: str | None
    staff: StaffRefOut | None
    at: datetime

    @classmethod
    def of(cls, row: FlagVerdict, staff: dict[uuid.UUID, StaffUser], timezone: str) -> VerdictOut:
        return cls(flag_id=row.flag_id, verdict=row.verdict, note=row.note, staff=StaffRefOut.of(staff.get(row.staff_id)), at=to_local(row.at, timezone))


class IncidentOut(Output):
    id: uuid.UUID
    offset_s: float
    occurred_at: datetime
    role: DeviceRole | None
    reason_code: str
    note: str | None
    staff: StaffRefOut | None
    created_at: datetime

    @classmethod
    def of(cls, row: Incident, staff: dict[uuid.UUID, StaffUser], timezone: str) -> IncidentOut:
        return cls(
            id=row.id, offset_s=row.offset_s, occurred_at=to_local(row.occurred_at, timezone), role=row.role, reason_code=row.reason_code,
            note=row.note, staff=StaffRefOut.of(staff.get(row.staff_id)), created_at=to_local(row.created_at, timezone),
        )  # fmt: skip


class DecisionOut(Output):
    id: uuid.UUID
    sitting_id: uuid.UUID
    version: int
    outcome: Outcome
    reason_codes: list[str]
    note: str | None
    status: DecisionStatus = Field(description="final | awaiting_second (a violation until another staff member confirms) | disputed (ops decide)")
    current: bool = Field(description="false once superseded by a later version or reopened")
    decided_by: StaffRefOut | None
    decided_at: datetime
    second_by: StaffRefOut | None
    second_at: datetime | None
    second_agrees: bool | None
    second_note: str | None
    superseded_at: datetime | None
    reopened_by: StaffRefOut | None
    reopen_note: str | None

    @classmethod
    def of(cls, d: Decision, staff: dict[uuid.UUID, StaffUser], timezone: str) -> DecisionOut:
        ref = lambda x: StaffRefOut.of(staff.get(x)) if x is not None else None  # noqa: E731
        return cls(
            id=d.id, sitting_id=d.sitting_id, version=d.version, outcome=d.outcome, reason_codes=list(d.reason_codes), note=d.note,
            status=d.status, current=d.superseded_at is None, decided_by=ref(d.decided_by), decided_at=to_local(d.decided_at, timezone),
            second_by=ref(d.second_by), second_at=to_local(d.second_at, timezone), second_agrees=d.second_agrees, second_note=d.second_note,
            superseded_at=to_local(d.superseded_at, timezone), reopened_by=ref(d.reopened_by), reopen_note=d.reopen_note,
        )  # fmt: skip


class FaceCheckOut(Output):
    id: uuid.UUID
    purpose: FacePurpose
    at: datetime
    similarity: float | None
    threshold: float
    faces: int
    passed: bool
    image_url: str | None = Field(description="GET it with the staff token (the capture, when one was kept)")

    @classmethod
    def of(cls, check: FaceCheck, timezone: str) -> FaceCheckOut:
        image = f"/api/v1/ops/face-checks/{check.id}/image" if check.image_key else None
        return cls(id=check.id, purpose=check.purpose, at=to_local(check.at, timezone), similarity=check.similarity, threshold=check.threshold,
                   faces=check.faces, passed=check.passed, image_url=image)  # fmt: skip


class ReviewCandidateOut(Output):
    id: uuid.UUID
    name: str
    id_number_masked: str
    id_photo_url: str | None = Field(description="GET it with the staff token")


class ReviewSheetOut(Output):
    sitting_id: uuid.UUID
    session_id: uuid.UUID
    session_title: str
    timezone: str
    state: SittingState
    answer_starts_at: datetime
    answer_ends_at: datetime
    candidate: ReviewCandidateOut
    questions: list[str] = Field(description="the question texts the sitting saw, once its answer window has ended")
    question_images: list[str | None] = Field(
        description="for each of `questions`, the URL of its image (GET it with the staff token), or null when it has none"
    )
    face_checks: list[FaceCheckOut] = Field(description="the waiting-room gate and the live stills, in time order")
    claim: ClaimOut | None
    verdicts: list[VerdictOut]
    incidents: list[IncidentOut]
    decisions: list[DecisionOut] = Field(description="every version, newest first")
    settled: bool = Field(description="a decision took effect (a confirmed violation, clean or technical)")

    @classmethod
    def of(cls, s: Sheet) -> ReviewSheetOut:
        tz, c = s.view.timezone, s.candidate
        photo = f"/api/v1/ops/candidates/{c.id}/id-photo" if c.photo_key else None
        return cls(
            sitting_id=s.view.sitting.id, session_id=s.view.session.id, session_title=s.view.session.title, timezone=tz, state=s.view.state,
            answer_starts_at=to_local(s.view.windows.answer_starts_at, tz), answer_ends_at=to_local(s.view.windows.answer_ends_at, tz),
            candidate=ReviewCandidateOut(id=c.id, name=c.name, id_number_masked=c.id_number_masked, id_photo_url=photo),
            questions=[q.text for q in s.questions],
            question_images=[f"/api/v1/ops/sittings/{s.view.sitting.id}/questions/{q.id}/image" if q.image_key else None for q in s.questions],
            face_checks=[FaceCheckOut.of(f, tz) for f in s.face_checks],
            claim=ClaimOut.of(s.claim, tz) if s.claim else None, verdicts=[VerdictOut.of(v, s.staff, tz) for v in s.verdicts],
            incidents=[IncidentOut.of(i, s.staff, tz) for i in s.incidents], decisions=[DecisionOut.of(d, s.staff, tz) for d in s.decisions],
            settled=s.settled,
        )  # fmt: skip


class ReasonCodeOut(Output):
    code: str
    label: str
    label_en: str
    consequence: str = Field(description="the seed's default for a confirmed violation: zero (score 0) | disqualify")

    @classmethod
    def of(cls, reason: ReasonCode) -> ReasonCodeOut:
        return cls(code=reason.code, label=reason.label, label_en=reason.label_en, consequence=reason.consequence)
