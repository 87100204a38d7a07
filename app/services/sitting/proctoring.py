"""Proctoring events from phones and from the server, interruptions, and the interruption policy in force."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import Device, Exam, Interruption, ProctorEvent, Sitting
from app.services.audit import SYSTEM
from app.services.sitting import facts
from app.services.sitting.interruptions import Breach, Policy, Stretch, breach
from app.services.sitting.lifecycle import SittingState
from app.services.sitting.sittings import SittingView

# What a phone may report. Leaving/returning pairs open and close an interruption of that reason.
DEVICE_EVENT_KINDS = frozenset(
    {
        "app_hidden", "app_visible", "call_started", "call_ended", "screen_locked", "screen_unlocked",
        "charger_plugged", "charger_unplugged", "battery_low", "camera_error", "microphone_error",
        "network_lost", "network_restored", "recording_started", "recording_stopped",
    }
)  # fmt: skip
LEAVING = {"app_hidden": "away", "call_started": "call", "screen_locked": "lock"}
RETURNING = {"app_visible": "away", "call_ended": "call", "screen_unlocked": "lock"}
# What the phones of one sitting may store in its event log: a real sitting has tens of events (a few hundred for a
# phone with a flaky network), each with a few bytes of details; the cap stops a phone filling the database.
MAX_DEVICE_EVENTS = 5_000
MAX_DEVICE_EVENT_BYTES = 2 * 1024 * 1024  # of details, serialized


def record(
    db: AsyncSession,
    *,
    sitting_id: uuid.UUID,
    device_id: uuid.UUID | None,
    source: str,
    kind: str,
    now: datetime,
    client_at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> ProctorEvent:
    event = ProctorEvent(sitting_id=sitting_id, device_id=device_id, source=source, kind=kind, at=now, client_at=client_at, details=details or {})
    db.add(event)
    return event


async def open_interruption(db: AsyncSession, *, device: Device, reason: str, now: datetime) -> None:
    if await _open(db, device_id=device.id, reason=reason) is None:
        db.add(Interruption(sitting_id=device.sitting_id, device_id=device.id, reason=reason, started_at=now))
        await db.flush()


async def close_interruption(db: AsyncSession, *, device: Device, reason: str, now: datetime) -> None:
    interruption = await _open(db, device_id=device.id, reason=reason)
    if interruption is not None:
        interruption.ended_at = now


async def close_replaced(db: AsyncSession, *, device: Device, now: datetime) -> None:
    """The phone now online for its role replaced earlier ones: whatever kept them away (offline, a call) ends now —
    the camera of the role is back, and a replaced phone can never close its own interruptions."""
    replaced = select(Device.id).where(
        Device.sitting_id == device.sitting_id, Device.role == device.role, Device.id != device.id, Device.superseded_at.is_not(None)
    )
    for interruption in await db.scalars(select(Interruption).where(Interruption.device_id.in_(replaced), Interruption.ended_at.is_(None))):
        interruption.ended_at = now


async def _open(db: AsyncSession, *, device_id: uuid.UUID, reason: str) -> Interruption | None:
    return await db.scalar(
        select(Interruption).where(Interruption.device_id == device_id, Interruption.reason == reason, Interruption.ended_at.is_(None))
    )


def details_size(details: dict[str, Any]) -> int:
    return len(json.dumps(details, ensure_ascii=False, separators=(",", ":")).encode())


async def take_log_room(db: AsyncSession, *, sitting_id: uuid.UUID, size: int) -> None:
    """Count one more device event of `size` bytes against the sitting's cap, or refuse it (one statement: two
    events at once cannot both take the last place)."""
    counted = await db.execute(
        update(Sitting)
        .where(
            Sitting.id == sitting_id,
            Sitting.device_event_count < MAX_DEVICE_EVENTS,
            Sitting.device_event_bytes + size <= MAX_DEVICE_EVENT_BYTES,
        )
        .values(device_event_count=Sitting.device_event_count + 1, device_event_bytes=Sitting.device_event_bytes + size)
        .execution_options(synchronize_session=False)
    )
    if counted.rowcount != 1:  # type: ignore[attr-defined]
        raise errors.EventLogFull(details={"max_events": MAX_DEVICE_EVENTS, "max_bytes": MAX_DEVICE_EVENT_BYTES})


async def device_event(
    db: AsyncSession, *, device: Device, kind: str, now: datetime, client_at: datetime | None, details: dict[str, Any]
) -> None:
    await take_log_room(db, sitting_id=device.sitting_id, size=details_size(details))
    record(db, sitting_id=device.sitting_id, device_id=device.id, source="device", kind=kind, now=now, client_at=client_at, details=details)
    if kind in LEAVING:
        await open_interruption(db, device=device, reason=LEAVING[kind], now=now)
    elif kind in RETURNING:
        await close_interruption(db, device=device, reason=RETURNING[kind], now=now)


def policy_of(exam: Exam) -> Policy:
    return Policy(limit=exam.interruption_limit, grace=timedelta(seconds=exam.interruption_grace_seconds))


def judge(view: SittingView, interruptions: list[Interruption], now: datetime) -> Breach | None:
    """The policy's verdict on a sitting's interruptions (pure): None before answering and in final states."""
    if view.state not in (SittingState.answering, SittingState.recorded):
        return None  # before answering nothing counts; final states stay as they are
    return breach(
        [Stretch(r.started_at, r.ended_at) for r in interruptions],
        policy=policy_of(view.exam),
        window_start=view.windows.answer_starts_at,
        window_end=view.sitting.recording_stopped_at or view.windows.answer_ends_at,
        now=now,
    )


async def enforce(
    db: AsyncSession, *, view: SittingView, now: datetime, interruptions: list[Interruption] | None = None
) -> Breach | None:
    """Terminate the sitting if its interruptions broke the exam's policy while answering
    (`interruptions`: all of the sitting's, when the caller already loaded them)."""
    if view.state not in (SittingState.answering, SittingState.recorded):
        return None
    if interruptions is None:
        interruptions = list((await db.scalars(select(Interruption).where(Interruption.sitting_id == view.sitting.id))).all())
    found = judge(view, interruptions, now)
    if found is not None:
        record(db, sitting_id=view.sitting.id, device_id=None, source="server", kind="policy_broken", now=now, details={"reason": found.reason, "at": found.at.isoformat()})
        facts.terminate(db, view=view, reason=found.reason, now=now, actor=SYSTEM, at=found.at)
    return found


async def list_events(db: AsyncSession, *, sitting_id: uuid.UUID) -> list[ProctorEvent]:
    query = select(ProctorEvent).where(ProctorEvent.sitting_id == sitting_id).order_by(ProctorEvent.at, ProctorEvent.id)
    return list((await db.scalars(query)).all())
