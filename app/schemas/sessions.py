from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field, StrictInt

from app.models import ExamSession, Question, SessionKind
from app.schemas import Input, Instant, Output, Patch
from app.schemas.recordings import RecordingCounts, RecordingOut
from app.services.sitting.lifecycle import SittingState, Windows
from app.services.timezones import to_local

_SECONDS = {"ge": 10, "le": 24 * 3600}


class SessionCreate(Input):
    kind: SessionKind
    title: str = Field(min_length=1, max_length=200)
    waiting_opens_at: Instant | None = Field(default=None, description="mock/formal only")
    answer_starts_at: Instant | None = Field(default=None, description="mock/formal only")
    answer_ends_at: Instant | None = Field(default=None, description="mock/formal only")
    upload_deadline: Instant | None = Field(default=None, description="mock/formal only")
    waiting_seconds: StrictInt | None = Field(default=None, description="practice only", **_SECONDS)
    answer_seconds: StrictInt | None = Field(default=None, description="practice only", **_SECONDS)
    upload_seconds: StrictInt | None = Field(default=None, description="practice only", **_SECONDS)


class SessionUpdate(Patch):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    waiting_opens_at: Instant | None = None
    answer_starts_at: Instant | None = None
    answer_ends_at: Instant | None = None
    upload_deadline: Instant | None = None
    waiting_seconds: StrictInt | None = Field(default=None, **_SECONDS)
    answer_seconds: StrictInt | None = Field(default=None, **_SECONDS)
    upload_seconds: StrictInt | None = Field(default=None, **_SECONDS)


class SessionOut(Output):
    id: uuid.UUID
    exam_id: uuid.UUID
    kind: SessionKind
    title: str
    waiting_opens_at: datetime | None
    answer_starts_at: datetime | None
    answer_ends_at: datetime | None
    upload_deadline: datetime | None
    waiting_seconds: int | None
    answer_seconds: int | None
    upload_seconds: int | None

    @classmethod
    def of(cls, session: ExamSession, timezone: str) -> SessionOut:
        return cls(
            id=session.id,
            exam_id=session.exam_id,
            kind=session.kind,
            title=session.title,
            waiting_opens_at=to_local(session.waiting_opens_at, timezone),
            answer_starts_at=to_local(session.answer_starts_at, timezone),
            answer_ends_at=to_local(session.answer_ends_at, timezone),
            upload_deadline=to_local(session.upload_deadline, timezone),
            waiting_seconds=session.waiting_seconds,
            answer_seconds=session.answer_seconds,
            upload_seconds=session.upload_seconds,
        )


class WindowsOut(Output):
    waiting_opens_at: datetime
    answer_starts_at: datetime
    answer_ends_at: datetime
    upload_deadline: datetime

    @classmethod
    def of(cls, windows: Windows, timezone: str) -> WindowsOut:
        return cls(
            waiting_opens_at=to_local(windows.waiting_opens_at, timezone),
            answer_starts_at=to_local(windows.answer_starts_at, timezone),
            answer_ends_at=to_local(windows.answer_ends_at, timezone),
            upload_deadline=to_local(windows.upload_deadline, timezone),
        )


class QuestionCreate(Input):
    text: str = Field(min_length=1, max_length=20000)


class QuestionOut(Output):
    id: uuid.UUID
    position: int
    text: str
    has_image: bool

    @classmethod
    def of(cls, question: Question) -> QuestionOut:
        return cls(id=question.id, position=question.position, text=question.text, has_image=question.image_key is not None)


class SessionStatusOut(Output):
    session_id: uuid.UUID
    now: datetime
    total: int
    counts: dict[SittingState, int]
    recordings: RecordingCounts


class OpsSittingOut(Output):
    sitting_id: uuid.UUID
    candidate_id: uuid.UUID
    name: str
    id_number_masked: str
    attempt: int
    state: SittingState
    face_passed_at: datetime | None
    ready_at: datetime | None
    recording_stopped_at: datetime | None
    terminated_at: datetime | None
    terminated_reason: str | None
    uploaded_at: datetime | None
    recordings: list[RecordingOut]
