"""Flag storage: one row per origin. Deriving the same flags again updates them in place (their ids, which
verdicts point at, stay); a flag its source no longer finds is superseded, never deleted."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_or_update
from app.models import DeviceRole, Flag, FlagSource

_VALUES = ("recording_id", "kind", "role", "source", "start_s", "end_s", "started_at", "ended_at", "value", "detail", "analyzer_version")


@dataclass(frozen=True, slots=True)
class NewFlag:
    origin: str
    kind: str
    role: DeviceRole
    source: FlagSource
    start_s: float
    end_s: float
    started_at: datetime
    ended_at: datetime
    value: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    recording_id: uuid.UUID | None = None
    analyzer_version: str | None = None


async def put(
    db: AsyncSession, *, sitting_id: uuid.UUID, flags: Sequence[NewFlag], now: datetime, replaces: ColumnElement[bool] | None
) -> None:
    """Store `flags` upserted by origin. `replaces`: they are a source's whole findings, and every other current flag
    of the sitting it selects (that source's earlier findings) is superseded; None: they add to what is there."""
    if flags:
        rows = [{"id": uuid.uuid4(), "sitting_id": sitting_id, "created_at": now, "superseded_at": None, **asdict(f)} for f in flags]
        await db.execute(insert_or_update(db, Flag, keys=["sitting_id", "origin"], update=[*_VALUES, "superseded_at"]), rows)
    if replaces is None:
        return
    stale = update(Flag).where(Flag.sitting_id == sitting_id, Flag.superseded_at.is_(None), replaces)
    if flags:
        stale = stale.where(Flag.origin.not_in([f.origin for f in flags]))
    await db.execute(stale.values(superseded_at=now).execution_options(synchronize_session=False))


async def current(db: AsyncSession, *, sitting_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Flag]]:
    """The current (not superseded) flags of each sitting on one timeline: both phones by server time."""
    found: dict[uuid.UUID, list[Flag]] = {s: [] for s in sitting_ids}
    if not sitting_ids:
        return found
    query = (
        select(Flag)
        .where(Flag.sitting_id.in_(sitting_ids), Flag.superseded_at.is_(None))
        .order_by(Flag.started_at, Flag.ended_at, Flag.role, Flag.kind, Flag.origin)
    )
    for flag in await db.scalars(query):
        found[flag.sitting_id].append(flag)
    return found
