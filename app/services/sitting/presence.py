"""Which phones are online, and what follows: peer notices, interruptions, readiness.

A phone is online from its socket's connect until its disconnect, or until its heartbeats stop for longer than
the timeout (the scheduler's sweep notices that, wherever the socket was). Presence lives in the database so
every process sees the same answer.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.services.sitting.channels import sitting_channel
from app.db import publish_after_commit
from app.models import Device, DeviceRole, Exam, ExamSession, Interruption, Sitting
from app.services.sitting import facts, proctoring, sittings, staff_feed
from app.services.sitting.lifecycle import SittingState
from app.services.sitting.sittings import SittingView, view_of


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


def _peer_notice(db: AsyncSession, view: SittingView, device: Device, online: bool) -> None:
    staff_feed.changed(db, session_id=view.session.id, sitting_id=device.sitting_id, what="presence")
    publish_after_commit(
        db,
        sitting_channel(device.sitting_id),
        {"type": "peer.online" if online else "peer.offline", "device_id": str(device.id), "role": device.role.value},
    )


async def connect(
    db: AsyncSession, *, device: Device, now: datetime, timeout: timedelta, view: SittingView | None = None
) -> SittingView:
    """A socket of this phone opened (or its heartbeats resumed) at `now` (`view`: the sitting as of `now`, when the
    caller has it).

    Presence changes are compare-and-set updates, so a transition is decided by the database row, never by
    a copy read earlier: with a socket closing while the same phone reconnects (or two processes at once),
    exactly one side records and announces each change."""
    await db.flush()  # pending changes to this row (a heartbeat's telemetry) go first
    values = {"connected_at": now, "disconnected_at": None, "last_seen_at": now}
    came_online = await _set(
        db, device, or_(Device.connected_at.is_(None), Device.disconnected_at.is_not(None), Device.last_seen_at < now - timeout), **values
    )
    if not came_online:
        await _set(db, device, true(), **values)
    for key, value in values.items():  # what the row now holds, without reading it back
        set_committed_value(device, key, value)
    if came_online:  # (an online phone has no open "offline" interruption: disconnect opens one with the flag)
        await proctoring.close_interruption(db, device=device, reason="offline", now=now)
        await proctoring.close_replaced(db, device=device, now=now)
        proctoring.record(db, sitting_id=device.sitting_id, device_id=device.id, source="server", kind="device_online", now=now, details={"role": device.role.value})
    # Announced on every connect, not only when the row changed: a peer that read this phone as offline a moment
    # ago (its old socket's close raced this connect) must still hear that it is here.
    view = view or await sittings.load(db, sitting_id=device.sitting_id, now=now)
    _peer_notice(db, view, device, True)
    await refresh_readiness(db, view=view, now=now, timeout=timeout)
    await proctoring.enforce(db, view=view, now=now)
    return view


async def heartbeat(db: AsyncSession, *, device: Device, telemetry: dict[str, Any], now: datetime) -> None:
    device.last_seen_at = now
    if telemetry:
        device.telemetry = {**(device.telemetry or {}), **telemetry}


async def refresh(db: AsyncSession, *, device_id: uuid.UUID, telemetry: dict[str, Any], now: datetime) -> bool:
    """A heartbeat of a phone the row holds online, in one statement (no read); False when it is not online
    (offline, never connected, or replaced) and nothing was written."""
    online = and_(Device.connected_at.is_not(None), Device.disconnected_at.is_(None), Device.superseded_at.is_(None))
    statement = (
        update(Device)
        .where(Device.id == device_id, online)
        .values(last_seen_at=now, telemetry=telemetry)
        .returning(Device.id)
        .execution_options(synchronize_session=False)
    )
    return await db.scalar(statement) is not None


async def disconnect(
    db: AsyncSession,
    *,
    device: Device,
    now: datetime,
    timeout: timedelta,
    reason: str,
    connected_at: datetime | None = None,
    seen_before: datetime | None = None,
) -> None:
    """The phone went away at `now` (socket closed, or last heartbeat + timeout).

    A socket that ends passes the `connected_at` it started with: if the same phone connected again since
    (a network switch leaves the old socket to time out later), the newer socket is the phone's presence and
    nothing changes. The sweep passes `seen_before`: a heartbeat that arrived meanwhile keeps the phone online."""
    await db.flush()
    condition = and_(Device.connected_at.is_not(None), Device.disconnected_at.is_(None))
    if connected_at is not None:
        condition = and_(condition, Device.connected_at == connected_at)
    if seen_before is not None:
        condition = and_(condition, Device.last_seen_at < seen_before)
    went_offline = await _set(db, device, condition, disconnected_at=now)
    await db.refresh(device)
    if not went_offline or device.superseded_at is not None:
        return  # already offline, reconnected since, or replaced by a newer phone (not an interruption)
    await proctoring.open_interruption(db, device=device, reason="offline", now=now)
    proctoring.record(db, sitting_id=device.sitting_id, device_id=device.id, source="server", kind="device_offline", now=now, details={"role": device.role.value, "reason": reason})
    view = await sittings.load(db, sitting_id=device.sitting_id, now=now)
    _peer_notice(db, view, device, False)
    await proctoring.enforce(db, view=view, now=now)


async def _set(db: AsyncSession, device: Device, condition: ColumnElement[bool], **values: Any) -> bool:
    """UPDATE this device's row if `condition` holds on the row as stored; True when it did."""
    statement = update(Device).where(Device.id == device.id, condition).values(**values).execution_options(synchronize_session=False)
    result = await db.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def face_passed(db: AsyncSession, *, view: SittingView, now: datetime, timeout: timedelta) -> SittingState:
    """The waiting-room face gate passed: ready if both phones are online."""
    if not facts.mark_face_passed(db, view=view, now=now):
        return view.state
    return await refresh_readiness(db, view=view, now=now, timeout=timeout)


async def refresh_readiness(db: AsyncSession, *, view: SittingView, now: datetime, timeout: timedelta) -> SittingState:
    """Ready = face gate passed and both phones online, inside the waiting window."""
    if view.state is not SittingState.waiting or view.sitting.face_passed_at is None:
        return view.state
    devices = await active_devices(db, sitting_id=view.sitting.id)
    if all(role in devices and is_online(devices[role], now=now, timeout=timeout) for role in DeviceRole):
        return facts.mark_ready(db, view=view, now=now)
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
        await disconnect(db, device=device, now=device.last_seen_at + timeout, timeout=timeout, reason="heartbeat_timeout", seen_before=now - timeout)
    await enforce_away(db, now=now)
    return len(stale)


async def enforce_away(db: AsyncSession, *, now: datetime) -> None:
    """Apply the interruption policy to every sitting with a phone still away, in two queries per pass.

    Thousands of phones can be away at once (offline in the waiting room, gone after answering to upload
    later), and this runs every tick: sittings already decided (terminated, uploaded, absent, incomplete) or
    whose answering has not begun are left out in SQL, the verdicts are computed in memory, and only a
    breach touches the database. Nothing depends on when the previous pass ran, so a late pass catches up."""
    undecided = (
        select(Sitting.id)
        .join(ExamSession, ExamSession.id == Sitting.session_id)
        .where(
            Sitting.id.in_(select(Interruption.sitting_id).where(Interruption.ended_at.is_(None))),
            Sitting.terminated_at.is_(None),
            Sitting.uploaded_at.is_(None),
            Sitting.outcome.is_(None),
            or_(ExamSession.answer_starts_at.is_(None), ExamSession.answer_starts_at <= now),  # practice: per attempt
        )
    )
    rows = (
        await db.execute(
            select(Sitting, ExamSession, Exam)
            .join(ExamSession, ExamSession.id == Sitting.session_id)
            .join(Exam, Exam.id == ExamSession.exam_id)
            .where(Sitting.id.in_(undecided))
        )
    ).all()
    views = [view_of(r.ExamSession, r.Sitting, r.Exam, now) for r in rows]
    views = [view for view in views if view.state in (SittingState.answering, SittingState.recorded)]
    if not views:
        return
    by_sitting: dict[Any, list[Interruption]] = {view.sitting.id: [] for view in views}
    for interruption in await db.scalars(select(Interruption).where(Interruption.sitting_id.in_(undecided))):
        if interruption.sitting_id in by_sitting:
            by_sitting[interruption.sitting_id].append(interruption)
    for view in views:
        if proctoring.judge(view, by_sitting[view.sitting.id], now) is not None:
            await proctoring.enforce(db, view=view, now=now, interruptions=by_sitting[view.sitting.id])
