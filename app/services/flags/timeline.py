"""Where a phone's recording starts on the server's clock: the zero of its flags' `start_s`/`end_s`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Device, DeviceRole, ProctorEvent
from app.services.sitting.sittings import SittingView


async def recording_starts(db: AsyncSession, *, view: SittingView) -> dict[DeviceRole, datetime]:
    """Per role, when its phone said its recording started (the first `recording_started` event of any of the
    role's phones: a replaced phone's recording is the one that started first); the answer start for a role that
    said nothing (the phones start recording at the answer start)."""
    rows = await db.execute(
        select(Device.role, func.min(ProctorEvent.at))
        .join(Device, Device.id == ProctorEvent.device_id)
        .where(ProctorEvent.sitting_id == view.sitting.id, ProctorEvent.kind == "recording_started")
        .group_by(Device.role)
    )
    said = {role: at for role, at in rows}
    return {role: said.get(role) or view.windows.answer_starts_at for role in DeviceRole}


def seconds(start: datetime, at: datetime) -> float:
    return round((at - start).total_seconds(), 3)
