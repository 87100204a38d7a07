"""The live dashboard of one session, as proctors watch it on exam day: how many sittings are in each state, and a
page of rows — both phones online or not, the face gate, bytes in per phone, live flags, the last event.

Every sitting's state is judged in Python (it depends on the session's windows and `now`), so filtering happens on
the session's rows, and only the page's rows are enriched: 1,000 sittings cost one scan and a few indexed queries
of at most `limit` ids."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Device, DeviceRole, ExamSession, Flag, FlagSource, ProctorEvent
from app.services.recordings import progress
from app.services.recordings.recordings import UploadFacts
from app.services.sitting import sittings
from app.services.sitting.lifecycle import SittingState
from app.services.sitting.presence import is_online
from app.services.sitting.sittings import SittingRow


@dataclass(frozen=True, slots=True)
class DashboardQuery:
    search: str | None = None  # a name, a phone number, the ID number's last digits, or an id's start
    state: SittingState | None = None
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class Phone:
    role: DeviceRole
    logged_in: bool
    online: bool
    bytes_received: int
    length: int | None
    recording: str  # missing | receiving | verified | failed


@dataclass(frozen=True, slots=True)
class LastEvent:
    kind: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DashboardRow:
    row: SittingRow
    phones: list[Phone]
    live_flags: dict[str, int]  # kind -> how many
    last_event: LastEvent | None


@dataclass(frozen=True, slots=True)
class Dashboard:
    counts: dict[SittingState, int]
    total: int
    matched: int
    rows: list[DashboardRow]


def _matches(row: SittingRow, search: str | None, state: SittingState | None) -> bool:
    if state is not None and row.state is not state:
        return False
    if not search:
        return True
    needle = search.strip().casefold()
    candidate = row.candidate
    return (
        needle in candidate.name.casefold()
        or needle in candidate.phone
        or (needle.isalnum() and candidate.id_number_masked.casefold().endswith(needle[-4:]) and len(needle) >= 4)
        or str(candidate.id).startswith(needle)
        or str(row.sitting.id).startswith(needle)
    )


async def dashboard(
    db: AsyncSession, *, session: ExamSession, now: datetime, uploads: UploadFacts, presence_timeout: timedelta, query: DashboardQuery
) -> Dashboard:
    rows = await sittings.session_sittings(db, session=session, now=now)
    counts = Counter(r.state for r in rows)
    chosen = [r for r in rows if _matches(r, query.search, query.state)]
    page = chosen[query.offset : query.offset + query.limit]
    ids = [r.sitting.id for r in page]
    phones = await _phones(db, ids, now=now, uploads=uploads, timeout=presence_timeout)
    flags = await _live_flags(db, ids)
    events = await _last_events(db, ids)
    return Dashboard(
        counts={state: counts.get(state, 0) for state in SittingState},
        total=len(rows),
        matched=len(chosen),
        rows=[DashboardRow(r, phones[r.sitting.id], flags.get(r.sitting.id, {}), events.get(r.sitting.id)) for r in page],
    )


async def _phones(
    db: AsyncSession, ids: list[uuid.UUID], *, now: datetime, uploads: UploadFacts, timeout: timedelta
) -> dict[uuid.UUID, list[Phone]]:
    active: dict[tuple[uuid.UUID, DeviceRole], Device] = {}
    if ids:
        for device in await db.scalars(select(Device).where(Device.sitting_id.in_(ids), Device.superseded_at.is_(None))):
            active[(device.sitting_id, device.role)] = device
    arrived = await progress.progress(db, ids, uploads=uploads)
    found: dict[uuid.UUID, list[Phone]] = {}
    for sitting_id in ids:
        found[sitting_id] = []
        for p in arrived[sitting_id]:
            device = active.get((sitting_id, p.role))
            online = device is not None and is_online(device, now=now, timeout=timeout)
            found[sitting_id].append(Phone(p.role, device is not None, online, p.bytes_received, p.length, p.status))
    return found


async def _live_flags(db: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    if not ids:
        return {}
    query = (
        select(Flag.sitting_id, Flag.kind, func.count())
        .where(Flag.sitting_id.in_(ids), Flag.source == FlagSource.live, Flag.superseded_at.is_(None))
        .group_by(Flag.sitting_id, Flag.kind)
    )
    found: dict[uuid.UUID, dict[str, int]] = {}
    for sitting_id, kind, n in await db.execute(query):
        found.setdefault(sitting_id, {})[kind] = n
    return found


async def _last_events(db: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, LastEvent]:
    if not ids:
        return {}
    ranked = (
        select(
            ProctorEvent.sitting_id,
            ProctorEvent.kind,
            ProctorEvent.at,
            func.row_number().over(partition_by=ProctorEvent.sitting_id, order_by=(ProctorEvent.at.desc(), ProctorEvent.id.desc())).label("n"),
        )
        .where(ProctorEvent.sitting_id.in_(ids))
        .subquery()
    )
    rows = await db.execute(select(ranked.c.sitting_id, ranked.c.kind, ranked.c.at).where(ranked.c.n == 1))
    return {sitting_id: LastEvent(kind, at) for sitting_id, kind, at in rows}
