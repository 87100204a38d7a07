"""The analysis job queue: which pending job a worker takes next. Two implementations of one small port, like the
scheduler's leadership: SQLite (one process runs the jobs; one statement claims) and PostgreSQL (`FOR UPDATE SKIP
LOCKED`, so several replicas share the queue without waiting on each other's claims).

A claim is a lease: a worker that dies leaves its job `running` until `lease_until`, then any worker takes it
again. A pending job that failed before waits until its `lease_until` (the retry delay)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import AnalysisJob, AnalysisStatus, Sitting


@dataclass(frozen=True, slots=True)
class Claim:
    """Who claims, for how long, which jobs: those of this analyzer version (a replica still on an older version
    leaves the newer jobs alone) and, when given, of one session."""

    worker: str
    lease: timedelta
    analyzer_version: str
    session_id: uuid.UUID | None = None


class JobQueue(Protocol):
    async def claim(self, db: AsyncSession, *, claim: Claim, now: datetime) -> AnalysisJob | None:
        """Take the oldest claimable job until now + lease; flushes, the caller commits."""
        ...


def claimable(claim: Claim, now: datetime) -> ColumnElement[bool]:
    """Pending and due, or running with its lease run out (its worker is gone)."""
    due = or_(AnalysisJob.lease_until.is_(None), AnalysisJob.lease_until <= now)
    clause = and_(
        AnalysisJob.analyzer_version == claim.analyzer_version,
        or_(and_(AnalysisJob.status == AnalysisStatus.pending, due), and_(AnalysisJob.status == AnalysisStatus.running, AnalysisJob.lease_until < now)),
    )
    session_id = claim.session_id
    if session_id is not None:
        clause = and_(clause, AnalysisJob.sitting_id.in_(select(Sitting.id).where(Sitting.session_id == session_id)))
    return clause


def _claim_values(claim: Claim, now: datetime) -> dict[str, object]:
    return {
        "status": AnalysisStatus.running, "claimed_by": claim.worker, "lease_until": now + claim.lease, "started_at": now,
        "attempts": AnalysisJob.attempts + 1, "progress": 0.0,
    }  # fmt: skip


class SqliteQueue:
    """One UPDATE … WHERE id = (SELECT … LIMIT 1) … RETURNING: SQLite runs it under its one write lock, so two
    claims (this process's runner and `dualcam flags run` beside it) never take the same job."""

    async def claim(self, db: AsyncSession, *, claim: Claim, now: datetime) -> AnalysisJob | None:
        oldest = select(AnalysisJob.id).where(claimable(claim, now)).order_by(AnalysisJob.queued_at, AnalysisJob.id).limit(1).scalar_subquery()
        statement = update(AnalysisJob).where(AnalysisJob.id == oldest).values(**_claim_values(claim, now)).returning(AnalysisJob.id)
        job_id = (await db.execute(statement.execution_options(synchronize_session=False))).scalar()
        return None if job_id is None else await db.get(AnalysisJob, job_id, populate_existing=True)


class PostgresQueue:
    """The oldest claimable row that no other transaction holds (SKIP LOCKED), locked until the claim commits:
    concurrent claims on several replicas each take a different job, at once."""

    async def claim(self, db: AsyncSession, *, claim: Claim, now: datetime) -> AnalysisJob | None:
        query = (
            select(AnalysisJob)
            .where(claimable(claim, now))
            .order_by(AnalysisJob.queued_at, AnalysisJob.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        job = await db.scalar(query)
        if job is None:
            return None
        await db.execute(update(AnalysisJob).where(AnalysisJob.id == job.id).values(**_claim_values(claim, now)).execution_options(synchronize_session=False))
        return await db.get(AnalysisJob, job.id, populate_existing=True)


def queue_for(*, is_sqlite: bool) -> JobQueue:
    return SqliteQueue() if is_sqlite else PostgresQueue()
