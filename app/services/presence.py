"""Which phones are online, and what follows: peer notices, interruptions, readiness.

A phone is online from its socket's connect until its disconnect, or until its heartbeats stop for longer than
the timeout (the scheduler's sweep notices that, wherever the socket was). Presence lives in the database so
every process sees the same answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.hub import sitting_channel
from app.db import publish_after_commit
from app.models import Device, DeviceRole, Exam, ExamSession, Interruption, Sitting
from app.services import proctoring, sittings
from app.services.candidates import SittingView, view_of
from app.services.lifecycle import SittingState


def is_online(device: Device, *, now: datetime, timeout: timedelta) -> bool:
    return (
        device.superseded_at is None
        and device.connected_at is not None
        and device.disconnected_at is None
        and device.last_seen_at is not None
        and now - device.last_seen_at <= timeout
    )


async def active_devices(db: AsyncSession, *, sitting_id: Any) -> dict[DeviceRole, Device]:
    rows = await db.scalars(select(Device).where(Device.sitting_id == sitting_id, Device.superseded_at.is_(None)))
    return {d.role: d for d in rows}


async def load_view(db: AsyncSession, *, sitting_id: Any, now: datetime) -> tuple[SittingView, Exam]:
    row = (
        await db.execute(
            select(Sitting, ExamSession, Exam)
            .join(ExamSession, ExamSession.id == Sitting.session_id)
            .join(Exam, Exam.id == ExamSession.exam_id)
            .where(Sitting.id == sitting_id)
        )
    ).one()
    return view_of(row.ExamSession, row.Sitting, now), row.Exam


def _peer_notice(db: AsyncSession, device: Device, online: bool) -> None:
    publish_after_commit(
        db,
        sitting_channel(device.sitting_id),
        {"type": "peer.online" if online else "peer.offline", "device_id": str(device.id), "role": device.role.value},
    )


async def connect(db: AsyncSession, *, device: Device, now: datetime, timeout: timedelta) -> SittingView:
    was_online = is_online(device, now=now, timeout=timeout)
    device.connected_at, device.disconnected_at, device.last_seen_at = now, None, now
    await proctoring.close_interruption(db, device=device, reason="offline", now=now)
    if not was_online:
        proctoring.record(db, sitting_id=device.sitting_id, device_id=device.id, source="server", kind="device_online", now=now, details={"role": device.role.value})
        _peer_notice(db, device, True)
    view, exam = await load_view(db, sitting_id=device.sitting_id, now=now)
    await refresh_readiness(db, view=view, now=now, timeout=timeout)
    await proctoring.enforce(db, view=view, exam=exam, now=now)
    return view


async def heartbeat(db: AsyncSession, *, device: Device, telemetry: dict[str, Any], now: datetime) -> None:
    device.last_seen_at = now
    if telemetry:
        device.telemetry = {**(device.telemetry or {}), **telemetry}


async def disconnect(db: AsyncSession, *, device: Device, now: datetime, timeout: timedelta, reason: str) -> None:
    """The phone went away at `now` (socket closed, or last heartbeat + timeout)."""
    if device.disconnected_at is not None or device.connected_at is None:
        return
    device.disconnected_at = now
    if device.superseded_at is not None:
        return  # replaced by a newer phone of the same role: not an interruption of the sitting
    await proctoring.open_interruption(db, device=device, reason="offline", now=now)
    proctoring.record(db, sitting_id=device.sitting_id, device_id=device.id, source="server", kind="device_offline", now=now, details={"role": device.role.value, "reason": reason})
    _peer_notice(db, device, False)
    view, exam = await load_view(db, sitting_id=device.sitting_id, now=now)
    await proctoring.enforce(db, view=view, exam=exam, now=now)


async def face_passed(db: AsyncSession, *, view: SittingView, now: datetime, timeout: timedelta) -> SittingState:
    """The waiting-room face gate passed (the face service calls this): ready if both phones are online."""
    if not sittings.mark_face_passed(db, view=view, now=now):
        return view.state
    return await refresh_readiness(db, view=view, now=now, timeout=timeout)


async def refresh_readiness(db: AsyncSession, *, view: SittingView, now: datetime, timeout: timedelta) -> SittingState:
    """Ready = face gate passed and both phones online, inside the waiting window."""
    if view.state is not SittingState.waiting or view.sitting.face_passed_at is None:
        return view.state
    devices = await active_devices(db, sitting_id=view.sitting.id)
    if all(role in devices and is_online(devices[role], now=now, timeout=timeout) for role in DeviceRole):
        return sittings.mark_ready(db, view=view, now=now)
    return view.state


async def sweep(db: AsyncSession, *, now: datetime, timeout: timedelta) -> int:
    """Mark phones whose heartbeats stopped as offline (as of last heartbeat + timeout), then apply the
    interruption policy to sittings with someone away (an interruption can outlast its grace silently)."""
    stale = (
        await db.scalars(
            select(Device).where(
                Device.connected_at.is_not(None),
                Device.disconnected_at.is_(None),
                Device.superseded_at.is_(None),
                Device.last_seen_at < now - timeout,
            )
        )
    ).all()
    for device in stale:
        assert device.last_seen_at is not None
        await disconnect(db, device=device, now=device.last_seen_at + timeout, timeout=timeout, reason="heartbeat_timeout")
    away = (await db.scalars(select(Interruption.sitting_id).where(Interruption.ended_at.is_(None)).distinct())).all()
    for sitting_id in away:
        view, exam = await load_view(db, sitting_id=sitting_id, now=now)
        await proctoring.enforce(db, view=view, exam=exam, now=now)
    return len(stale)
