"""Recordings as phones, ops and reviewers see them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from app.models import DeviceRole
from app.schemas import Output
from app.services.recordings.links import Link
from app.services.recordings.progress import Progress
from app.services.timezones import to_local

RecordingStatusOut = Literal["missing", "receiving", "verified", "failed"]


class RecordingOut(Output):
    """One phone's recording of a sitting: `missing` until the phone creates it, then bytes arrive (`receiving`)
    until PyAV has read it: `verified` (with its duration) or `failed` (the reason; the phone may send it again)."""

    role: DeviceRole
    status: RecordingStatusOut
    verified: bool
    bytes_received: int
    length: int | None  # known once the phone stopped recording
    last_write_at: datetime | None
    verified_at: datetime | None
    duration_seconds: float | None
    failure_reason: str | None

    @classmethod
    def of(cls, progress: Progress, timezone: str) -> RecordingOut:
        rec = progress.recording
        return cls(
            role=progress.role,
            status=progress.status,  # type: ignore[arg-type]
            verified=progress.status == "verified",
            bytes_received=progress.bytes_received,
            length=progress.length,
            last_write_at=to_local(progress.last_write_at, timezone),
            verified_at=to_local(rec.verified_at, timezone) if rec else None,
            duration_seconds=rec.duration_seconds if rec else None,
            failure_reason=rec.failure_reason if rec else None,
        )


class StaffRecordingOut(RecordingOut):
    """For ops and reviewers: the evidence (sha256 of the object, hash chain of its PATCHes, what PyAV read) and,
    once every byte is in, a short-lived signed link to watch it."""

    id: uuid.UUID | None
    attempts: int
    size: int | None
    sha256: str | None
    chain_sha256: str | None
    container: str | None
    media: dict | None  # type: ignore[type-arg]
    url: str | None  # to watch: the playback copy (seekable) once made, else the original
    original_url: str | None  # the untouched bytes (sha256 above), as a download
    playback: bool  # the playback copy is made
    url_expires_at: datetime | None

    @classmethod
    def staff_view(cls, progress: Progress, timezone: str, link: Link | None) -> StaffRecordingOut:
        base = RecordingOut.of(progress, timezone).model_dump()
        rec = progress.recording
        return cls(
            **base,
            id=rec.id if rec else None,
            attempts=rec.attempts if rec else 0,
            size=rec.size if rec else None,
            sha256=rec.sha256 if rec else None,
            chain_sha256=rec.chain_sha256 if rec else None,
            container=rec.container if rec else None,
            media=rec.media if rec else None,
            url=link.path if link else None,
            original_url=link.original_path if link else None,
            playback=bool(rec and rec.playback_of is not None and rec.playback_of == rec.sha256),
            url_expires_at=to_local(link.expires_at, timezone) if link else None,
        )


class RecordingCounts(Output):
    """Per role, how many sittings' recordings are in each status."""

    main: dict[RecordingStatusOut, int]
    aux: dict[RecordingStatusOut, int]
