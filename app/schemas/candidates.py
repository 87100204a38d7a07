from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, StrictBool

from app.models import Candidate, DeviceRole, SessionKind
from app.schemas import Input, Output
from app.schemas.recordings import RecordingOut
from app.schemas.sessions import QuestionOut, SessionOut, WindowsOut
from app.services.sitting.sittings import SessionView, SittingView
from app.services.sitting.lifecycle import SittingState
from app.services.timezones import to_local


class Registration(Input):
    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=18, max_length=18)
    phone: str = Field(min_length=11, max_length=20)
    password: str = Field(min_length=8, max_length=128)


class ConfirmIn(Input):
    identity_category: str = Field(min_length=1, max_length=32, examples=["其他"])
    province: str = Field(min_length=1, max_length=32, examples=["山东"])
    accept_rules: StrictBool = Field(description="已阅读并同意诚信承诺 / read and accepted the conduct rules")


class CandidateOut(Output):
    id: uuid.UUID
    exam_id: uuid.UUID
    name: str
    id_number_masked: str
    phone: str
    has_photo: bool
    identity_verified_at: datetime | None
    confirmed_at: datetime | None
    must_set_password: bool

    @classmethod
    def of(cls, candidate: Candidate, timezone: str) -> CandidateOut:
        return cls(
            id=candidate.id,
            exam_id=candidate.exam_id,
            name=candidate.name,
            id_number_masked=candidate.id_number_masked,
            phone=candidate.phone,
            has_photo=candidate.photo_key is not None,
            identity_verified_at=to_local(candidate.identity_verified_at, timezone),
            confirmed_at=to_local(candidate.confirmed_at, timezone),
            must_set_password=candidate.password_hash is None,
        )


class SittingOut(Output):
    id: uuid.UUID
    session_id: uuid.UUID
    kind: SessionKind
    attempt: int
    state: SittingState
    missed_start: bool = Field(
        description="the answer start passed before the face check and both phones were ready: no question and no recording "
        "(absent; a practice attempt ends incomplete)"
    )
    windows: WindowsOut
    server_now: datetime
    timezone: str = Field(description="the exam's IANA timezone: the phones show every time in it and name it (北京时间 for Beijing)")

    @classmethod
    def of(cls, view: SittingView, now: datetime) -> SittingOut:
        timezone = view.timezone
        return cls(
            id=view.sitting.id,
            session_id=view.session.id,
            kind=view.session.kind,
            attempt=view.sitting.attempt,
            state=view.state,
            missed_start=view.missed_start(now),
            windows=WindowsOut.of(view.windows, timezone),
            server_now=to_local(now, timezone),
            timezone=timezone,
        )


class DeviceSittingOut(SittingOut):
    """A phone's view of its sitting, with both recordings (each phone shows "上传完成" once its own is verified)."""

    recordings: list[RecordingOut]
    live_still_seconds: int | None = Field(
        description="main phone: while answering, send a still to POST /api/v1/device/face/check every this many seconds; null for the aux phone"
    )


class CandidateSessionOut(SessionOut):
    """A session as the candidate sees it: its times in the exam's timezone and the candidate's sitting."""

    timezone: str
    sitting: SittingOut | None

    @classmethod
    def of(cls, view: SessionView, timezone: str, now: datetime) -> CandidateSessionOut:  # type: ignore[override]
        session = SessionOut.of(view.session, timezone)
        sitting = SittingOut.of(view.sitting, now) if view.sitting else None
        return cls(**session.model_dump(), timezone=timezone, sitting=sitting)


class QuestionsOut(Output):
    sitting_id: uuid.UUID
    questions: list[QuestionOut]


class DeviceLoginIn(Input):
    role: DeviceRole


class DeviceLoginOut(Output):
    device_id: uuid.UUID
    sitting_id: uuid.UUID
    role: DeviceRole
    token: str
    expires_at: datetime
    replaced_at: datetime | None = Field(description="when this phone replaced the one logged in before it for the role (exam's timezone); null: none")
    timezone: str = Field(description="the exam's timezone, for the times this phone shows")
