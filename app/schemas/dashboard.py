"""The live dashboard of a session (app.services.dashboard): counts per state and a page of rows."""

from __future__ import annotations

import uuid
from datetime import datetime

from app.models import DeviceRole
from app.schemas import Output
from app.services.dashboard import Dashboard, DashboardRow, Phone
from app.services.sitting.lifecycle import SittingState
from app.services.timezones import to_local


class DashboardPhoneOut(Output):
    role: DeviceRole
    logged_in: bool  # a phone of this role has logged in (the aux phone: paired)
    online: bool
    bytes_received: int
    length: int | None
    recording: str  # missing | receiving | verified | failed

    @classmethod
    def of(cls, phone: Phone) -> DashboardPhoneOut:
        return cls(role=phone.role, logged_in=phone.logged_in, online=phone.online, bytes_received=phone.bytes_received, length=phone.length, recording=phone.recording)


class LastEventOut(Output):
    kind: str
    at: datetime


class DashboardRowOut(Output):
    sitting_id: uuid.UUID
    candidate_id: uuid.UUID
    name: str
    id_number_masked: str
    attempt: int
    state: SittingState
    face_passed_at: datetime | None
    phones: list[DashboardPhoneOut]
    live_flags: dict[str, int]
    last_event: LastEventOut | None

    @classmethod
    def of(cls, row: DashboardRow, timezone: str) -> DashboardRowOut:
        sitting, candidate = row.row.sitting, row.row.candidate
        event = row.last_event
        return cls(
            sitting_id=sitting.id,
            candidate_id=candidate.id,
            name=candidate.name,
            id_number_masked=candidate.id_number_masked,
            attempt=sitting.attempt,
            state=row.row.state,
            face_passed_at=to_local(sitting.face_passed_at, timezone),
            phones=[DashboardPhoneOut.of(p) for p in row.phones],
            live_flags=row.live_flags,
            last_event=LastEventOut(kind=event.kind, at=to_local(event.at, timezone)) if event else None,
        )


class DashboardOut(Output):
    session_id: uuid.UUID
    now: datetime  # server time, in the exam's zone
    timezone: str
    total: int
    counts: dict[SittingState, int]
    matched: int  # rows that pass the filter; `rows` is the page of them
    offset: int
    limit: int
    rows: list[DashboardRowOut]

    @classmethod
    def of(cls, session_id: uuid.UUID, board: Dashboard, *, now: datetime, timezone: str, offset: int, limit: int) -> DashboardOut:
        return cls(
            session_id=session_id, now=to_local(now, timezone), timezone=timezone, total=board.total, counts=board.counts,
            matched=board.matched, offset=offset, limit=limit, rows=[DashboardRowOut.of(r, timezone) for r in board.rows],
        )  # fmt: skip
