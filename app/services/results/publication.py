"""Publishing a session's results: the rows frozen with the sha256 of their canonical JSON; a reopen (with a reason)
lets them change, and publishing again makes the next version. Every version is kept."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import ResultPublication
from app.services.audit import Actor, record


def digest(rows: list[dict[str, Any]]) -> str:
    """sha256 of the rows as canonical JSON (keys sorted, no spaces, UTF-8): anyone can recompute it from an export."""
    canonical = json.dumps(rows, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def current(db: AsyncSession, *, session_id: uuid.UUID) -> ResultPublication | None:
    """The version in force: the newest one not reopened."""
    return await db.scalar(
        select(ResultPublication)
        .where(ResultPublication.session_id == session_id, ResultPublication.reopened_at.is_(None))
        .order_by(ResultPublication.version.desc())
        .limit(1)
    )


async def history(db: AsyncSession, *, session_id: uuid.UUID) -> list[ResultPublication]:
    return list(await db.scalars(select(ResultPublication).where(ResultPublication.session_id == session_id).order_by(ResultPublication.version.desc())))


async def ensure_open(db: AsyncSession, *, session_id: uuid.UUID) -> None:
    """Anything that changes a result (a score, a hand-set score) waits for a reopen once they are published."""
    published = await current(db, session_id=session_id)
    if published is not None:
        raise errors.ResultsPublished(details={"version": published.version, "sha256": published.sha256})


async def publish(
    db: AsyncSession, *, session_id: uuid.UUID, rows: list[dict[str, Any]], now: datetime, actor: Actor, staff_id: uuid.UUID | None
) -> ResultPublication:
    await ensure_open(db, session_id=session_id)
    version = (await db.scalar(select(func.max(ResultPublication.version)).where(ResultPublication.session_id == session_id)) or 0) + 1
    publication = ResultPublication(
        session_id=session_id, version=version, rows=rows, sha256=digest(rows), published_at=now, published_by=staff_id
    )
    db.add(publication)
    await db.flush()
    record(db, at=now, actor=actor, action="results.publish", target_kind="session", target_id=session_id, details={"version": version, "sha256": publication.sha256, "rows": len(rows)})
    return publication


async def reopen(
    db: AsyncSession, *, session_id: uuid.UUID, reason: str, now: datetime, actor: Actor, staff_id: uuid.UUID | None
) -> ResultPublication:
    published = await current(db, session_id=session_id)
    if published is None:
        raise errors.ResultsNotPublished()
    published.reopened_at, published.reopened_by, published.reopen_reason = now, staff_id, reason
    record(db, at=now, actor=actor, action="results.reopen", target_kind="session", target_id=session_id, details={"version": published.version, "reason": reason})
    return published
