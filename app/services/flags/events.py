"""Event flags, derived from what is stored about a sitting: its phones' interruptions (app hidden, a call, the
screen locked, offline), phones replaced while answering, and recordings shorter than the answer window without a
manual stop. Derived again whenever the facts may have grown (a recording verified, the upload deadline passed, a
reanalysis): the same facts give the same flags (upserted by origin)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import Clock
from app.db import insert_or_skip, transaction
from app.logs import get_logger
from app.models import Device, DeviceRole, Flag, FlagSource, Interruption, PhaseAnnouncement, ProctorEvent, Recording, RecordingStatus, Sitting
from app.services.flags.store import NewFlag, put
from app.services.flags.timeline import recording_starts, seconds
from app.services.sitting import sittings
from app.services.sitting.phases import CATCH_UP, Phase
from app.services.sitting.sittings import SittingView

log = get_logger(__name__)

# Interruption reasons (app.services.sitting.proctoring) and the flag kind each becomes; offline depends on the phone.
INTERRUPTION_KINDS = {"away": "app_hidden", "call": "call", "lock": "screen_locked"}
OFFLINE_KINDS = {DeviceRole.main: "offline", DeviceRole.aux: "aux_offline"}
MANUAL_STOP = "manual_stop"  # the `reason` of a phone's recording_stopped event after the candidate's early stop
# Marks an upload deadline whose sittings' event flags were derived (a key in phase_announcements: once each).
DERIVED_PREFIX = "flags:"


async def derive(db: AsyncSession, *, sitting_id: uuid.UUID, now: datetime, short_by: timedelta) -> list[NewFlag]:
    """Derive the sitting's event flags from its stored facts and store them (the ones no longer found are
    superseded). A sitting that never answered has none."""
    view = await sittings.load(db, sitting_id=sitting_id, now=now)
    found: list[NewFlag] = []
    if not view.missed_start(now) and now >= view.windows.answer_starts_at:
        starts = await recording_starts(db, view=view)
        roles = {d.id: d.role for d in await db.scalars(select(Device).where(Device.sitting_id == sitting_id))}
        found += await _interruptions(db, view, roles, starts, now)
        found += await _replacements(db, view, starts, now)
        found += await _short_recordings(db, view, starts, short_by)
    await put(db, sitting_id=sitting_id, flags=found, now=now, replaces=Flag.source == FlagSource.event)
    return found


def _answer_end(view: SittingView, now: datetime) -> datetime:
    """Where the answering ended (a manual stop ends it early), or `now` while it goes on."""
    return min(view.sitting.recording_stopped_at or view.windows.answer_ends_at, view.windows.answer_ends_at, now)


def _flag(origin: str, kind: str, role: DeviceRole, start: datetime, begin: datetime, end: datetime, **extra: object) -> NewFlag:
    return NewFlag(
        origin=origin, kind=kind, role=role, source=FlagSource.event, start_s=seconds(start, begin), end_s=seconds(start, end),
        started_at=begin, ended_at=end, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


async def _interruptions(
    db: AsyncSession, view: SittingView, roles: dict[uuid.UUID, DeviceRole], starts: dict[DeviceRole, datetime], now: datetime
) -> list[NewFlag]:
    """Each interruption, clipped to the answering (time away before it or after it does not count); one still
    open runs to the end of the answering, or to now."""
    window_start, window_end = view.windows.answer_starts_at, _answer_end(view, now)
    found = []
    for row in await db.scalars(select(Interruption).where(Interruption.sitting_id == view.sitting.id).order_by(Interruption.started_at, Interruption.id)):
        role = roles[row.device_id]
        kind = OFFLINE_KINDS[role] if row.reason == "offline" else INTERRUPTION_KINDS.get(row.reason)
        begin, end = max(row.started_at, window_start), min(row.ended_at or window_end, window_end)
        if kind is None or end < begin or (end == begin and row.ended_at is not None):
            continue
        detail = {"reason": row.reason, "still_open": row.ended_at is None, "seconds": round((end - begin).total_seconds(), 3)}
        found.append(_flag(f"event:interruption:{row.id}", kind, role, starts[role], begin, end, value=detail["seconds"], detail=detail))
    return found


async def _replacements(db: AsyncSession, view: SittingView, starts: dict[DeviceRole, datetime], now: datetime) -> list[NewFlag]:
    """A phone replaced by another one while answering (before it, a new phone is set-up, not an event)."""
    query = select(ProctorEvent).where(
        ProctorEvent.sitting_id == view.sitting.id,
        ProctorEvent.kind == "device_replaced",
        ProctorEvent.at >= view.windows.answer_starts_at,
        ProctorEvent.at <= _answer_end(view, now),
    )
    found = []
    for event in await db.scalars(query.order_by(ProctorEvent.at, ProctorEvent.id)):
        role = DeviceRole(event.details.get("role", DeviceRole.main.value))
        detail = {"replaced_by": event.details.get("replaced_by")}
        found.append(_flag(f"event:device_replaced:{event.id}", "device_replaced", role, starts[role], event.at, event.at, detail=detail))
    return found


async def _short_recordings(db: AsyncSession, view: SittingView, starts: dict[DeviceRole, datetime], short_by: timedelta) -> list[NewFlag]:
    """A verified recording shorter than the answer window by more than `short_by`, unless the candidate stopped
    early (a manual stop: the main phone's stop, which ends both recordings)."""
    stopped = await db.scalar(
        select(ProctorEvent.id)
        .where(ProctorEvent.sitting_id == view.sitting.id, ProctorEvent.kind == "recording_stopped", ProctorEvent.details["reason"].as_string() == MANUAL_STOP)
        .limit(1)
    )
    if stopped is not None:
        return []
    window = (view.windows.answer_ends_at - view.windows.answer_starts_at).total_seconds()
    found = []
    recordings = select(Recording).where(Recording.sitting_id == view.sitting.id, Recording.status == RecordingStatus.verified)
    for rec in await db.scalars(recordings.order_by(Recording.role)):
        duration = rec.duration_seconds or 0.0
        if window - duration <= short_by.total_seconds():
            continue
        start = starts[rec.role]
        missing = round(window - duration, 3)
        found.append(
            NewFlag(
                origin=f"event:short_recording:{rec.role.value}", kind="short_recording", role=rec.role, source=FlagSource.event,
                start_s=round(duration, 3), end_s=round(window, 3), started_at=start + timedelta(seconds=duration),
                ended_at=start + timedelta(seconds=window), value=missing, recording_id=rec.id,
                detail={"duration_s": duration, "answer_window_s": window, "missing_s": missing},
            )  # fmt: skip
        )
    return found


async def after_deadlines(sessionmaker: async_sessionmaker[AsyncSession], *, clock: Clock, short_by: timedelta) -> int:
    """A scheduler job: once per upload deadline the scheduler announced, derive the event flags of its sittings
    (the facts are complete then: nothing more can arrive). Marked done in the same transaction, so it runs once
    whatever the restarts and replicas; returns how many sittings it derived."""
    now = clock.now()
    async with transaction(sessionmaker) as db:
        rows = await db.execute(
            select(PhaseAnnouncement.key, PhaseAnnouncement.due_at).where(
                PhaseAnnouncement.key.like(f"%:{Phase.upload_closed.value}"), PhaseAnnouncement.due_at > now - CATCH_UP
            )
        )
        closed = {key: due for key, due in rows}
    done = {key.removeprefix(DERIVED_PREFIX) for key in closed if key.startswith(DERIVED_PREFIX)}
    pending = sorted((k for k in closed if not k.startswith(DERIVED_PREFIX) and k not in done), key=lambda k: (closed[k], k))
    derived = 0
    for key in pending:
        scope, target, _ = key.split(":")
        async with transaction(sessionmaker) as db:
            marked = await db.execute(insert_or_skip(db, PhaseAnnouncement).values(id=uuid.uuid4(), key=DERIVED_PREFIX + key, due_at=closed[key], announced_at=now))
            if not marked.rowcount:  # type: ignore[attr-defined]
                continue  # another replica took this deadline
            column = Sitting.id if scope == "sitting" else Sitting.session_id
            targets = list(await db.scalars(select(Sitting.id).where(column == uuid.UUID(target))))
            for sitting_id in targets:
                await derive(db, sitting_id=sitting_id, now=now, short_by=short_by)
        derived += len(targets)
        log.info("flags.events.deadline", key=key, sittings=len(targets))
    return derived
