"""Recordings as ops and phones follow them while they arrive: bytes in per phone, and counts per session."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import DeviceRole, Recording, RecordingStatus, Sitting
from app.services.recordings.recordings import UploadFacts


@dataclass(frozen=True, slots=True)
class Progress:
    """One recording as ops see it while it arrives."""

    recording: Recording | None
    role: DeviceRole
    bytes_received: int
    length: int | None
    last_write_at: datetime | None

    @property
    def status(self) -> str:
        return self.recording.status.value if self.recording else "missing"


async def progress(db: AsyncSession, sitting_ids: list[uuid.UUID], *, uploads: UploadFacts) -> dict[uuid.UUID, list[Progress]]:
    """Per sitting, one entry per role (missing ones too), in role order."""
    found: dict[tuple[uuid.UUID, DeviceRole], Progress] = {}
    if sitting_ids:
        recordings = list(await db.scalars(select(Recording).where(Recording.sitting_id.in_(sitting_ids))))
        carried = await uploads.get_many([r.upload_id for r in recordings])
        for rec in recordings:
            upload = carried.get(rec.upload_id)
            found[(rec.sitting_id, rec.role)] = Progress(
                recording=rec,
                role=rec.role,
                bytes_received=upload.offset if upload else 0,
                length=upload.length if upload else None,
                last_write_at=upload.updated_at if upload else None,
            )
    return {
        sid: [found.get((sid, role)) or Progress(None, role, 0, None, None) for role in DeviceRole] for sid in sitting_ids
    }


async def session_counts(db: AsyncSession, *, session_id: uuid.UUID) -> dict[DeviceRole, dict[str, int]]:
    """Per role, how many of the session's sittings have their recording missing, receiving, verified, failed."""
    total = await db.scalar(select(func.count()).select_from(Sitting).where(Sitting.session_id == session_id)) or 0
    rows = await db.execute(
        select(Recording.role, Recording.status, func.count())
        .join(Sitting, Sitting.id == Recording.sitting_id)
        .where(Sitting.session_id == session_id)
        .group_by(Recording.role, Recording.status)
    )
    counts = {role: {"missing": total, **{s.value: 0 for s in RecordingStatus}} for role in DeviceRole}
    for role, status, n in rows:
        counts[role][status.value] = n
        counts[role]["missing"] -= n
    return counts


async def for_sitting(db: AsyncSession, sitting_id: uuid.UUID, *, uploads: UploadFacts) -> list[Progress]:
    return (await progress(db, [sitting_id], uploads=uploads))[sitting_id]
