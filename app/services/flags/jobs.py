"""Analysis jobs: one per recording's bytes (sha256) and analyzer version. Queued when a recording is verified;
running it again gives the same flags; a new analyzer version makes a new job, whose flags supersede the old ones.
A failure is retried after a delay, a few times, then the job is `failed` with its reason."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_or_skip
from app.models import AnalysisJob, AnalysisStatus, DeviceRole, Flag, FlagSource, Recording, RecordingStatus, Sitting
from app.services.audit import Actor, record
from app.services.flags import events
from app.services.scope import EVERY_EXAM, ExamScope
from app.services.sitting import sittings

REASON_LENGTH = 300  # analysis_jobs.failure_reason


async def enqueue(db: AsyncSession, *, recording: Recording, analyzer_version: str, now: datetime) -> AnalysisJob:
    """The job of this recording's bytes and analyzer version: queued if new, else the one there is (idempotent)."""
    return (await _enqueue(db, recording=recording, analyzer_version=analyzer_version, now=now))[0]


async def requeue(db: AsyncSession, *, recording: Recording, analyzer_version: str, now: datetime) -> AnalysisJob:
    """Run the analysis again (ops asked): the job goes back to pending from the start, with its attempts reset. The
    job row is the same (one per bytes and version), and so are the flags it finds (upserted by origin). A job
    running now is left to finish: it is already doing what was asked."""
    job, new = await _enqueue(db, recording=recording, analyzer_version=analyzer_version, now=now)
    if not new and job.status is not AnalysisStatus.running:
        job.status, job.attempts, job.progress, job.failure_reason = AnalysisStatus.pending, 0, 0.0, None
        job.claimed_by = job.lease_until = job.started_at = job.finished_at = None
        job.queued_at = now
        await db.flush()
    return job


async def _enqueue(db: AsyncSession, *, recording: Recording, analyzer_version: str, now: datetime) -> tuple[AnalysisJob, bool]:
    assert recording.sha256 is not None, "only a verified recording is analysed"
    values = {
        "id": uuid.uuid4(), "recording_id": recording.id, "sitting_id": recording.sitting_id, "sha256": recording.sha256,
        "analyzer_version": analyzer_version, "status": AnalysisStatus.pending, "attempts": 0, "progress": 0.0, "queued_at": now,
    }  # fmt: skip
    inserted = await db.execute(insert_or_skip(db, AnalysisJob).values(**values))
    job = await db.scalar(
        select(AnalysisJob)
        .where(AnalysisJob.recording_id == recording.id, AnalysisJob.sha256 == recording.sha256, AnalysisJob.analyzer_version == analyzer_version)
        .execution_options(populate_existing=True)
    )
    assert job is not None
    return job, bool(inserted.rowcount)  # type: ignore[attr-defined]


async def enqueue_missing(db: AsyncSession, *, analyzer_version: str, now: datetime, session_id: uuid.UUID | None = None, limit: int = 100) -> int:
    """Queue the verified recordings that have no job of this analyzer version: those verified before this version
    was deployed (a new analyzer re-analyses everything), or whose queueing at verification was lost."""
    has_job = exists().where(AnalysisJob.recording_id == Recording.id, AnalysisJob.sha256 == Recording.sha256, AnalysisJob.analyzer_version == analyzer_version)
    query = select(Recording).where(Recording.status == RecordingStatus.verified, Recording.sha256.is_not(None), ~has_job)
    if session_id is not None:
        query = query.join(Sitting, Sitting.id == Recording.sitting_id).where(Sitting.session_id == session_id)
    missing = list((await db.scalars(query.order_by(Recording.verified_at, Recording.id).limit(limit))).all())
    for recording in missing:
        await enqueue(db, recording=recording, analyzer_version=analyzer_version, now=now)
    return len(missing)


@dataclass(frozen=True, slots=True)
class Reanalysis:
    timezone: str
    jobs: list[tuple[DeviceRole, AnalysisJob]]


async def reanalyze(
    db: AsyncSession, *, sitting_id: uuid.UUID, analyzer_version: str, now: datetime, short_by: timedelta, actor: Actor, scope: ExamScope = EVERY_EXAM
) -> Reanalysis:
    """Ops asked for the sitting's analysis again: every verified recording's job back to pending (see `requeue`),
    the event flags derived again; audited."""
    view = await sittings.load(db, sitting_id=sitting_id, now=now, scope=scope)
    queued = [(r.role, await requeue(db, recording=r, analyzer_version=analyzer_version, now=now)) for r in await verified_recordings(db, sitting_id=sitting_id)]
    await events.derive(db, sitting_id=sitting_id, now=now, short_by=short_by)
    details = {"jobs": [str(j.id) for _, j in queued], "analyzer_version": analyzer_version}
    record(db, at=now, actor=actor, action="flags.reanalyze", target_kind="sitting", target_id=sitting_id, details=details)
    return Reanalysis(view.timezone, queued)


def _mine(job_id: uuid.UUID, worker: str):  # type: ignore[no-untyped-def]
    return and_(AnalysisJob.id == job_id, AnalysisJob.status == AnalysisStatus.running, AnalysisJob.claimed_by == worker)


async def renew(db: AsyncSession, *, job_id: uuid.UUID, worker: str, progress: float, now: datetime, lease: timedelta) -> bool:
    """Write the progress and extend the claim; False when the claim is no longer this worker's (its lease ran out
    and another worker took the job)."""
    statement = update(AnalysisJob).where(_mine(job_id, worker)).values(progress=round(min(max(progress, 0.0), 1.0), 4), lease_until=now + lease)
    return bool((await db.execute(statement.execution_options(synchronize_session=False))).rowcount)  # type: ignore[attr-defined]


async def finish(db: AsyncSession, *, job_id: uuid.UUID, worker: str, now: datetime) -> bool:
    statement = update(AnalysisJob).where(_mine(job_id, worker)).values(
        status=AnalysisStatus.done, progress=1.0, failure_reason=None, claimed_by=None, lease_until=None, finished_at=now
    )
    return bool((await db.execute(statement.execution_options(synchronize_session=False))).rowcount)  # type: ignore[attr-defined]


async def fail(db: AsyncSession, *, job_id: uuid.UUID, worker: str, reason: str, now: datetime, retries: int, retry_after: timedelta) -> AnalysisStatus | None:
    """An attempt failed: pending again after `retry_after` while retries are left, else failed for good. The reason
    is kept either way (ops see why it is being retried). None when the claim was no longer this worker's."""
    job = await db.scalar(select(AnalysisJob).where(_mine(job_id, worker)).execution_options(populate_existing=True))
    if job is None:
        return None
    job.failure_reason = reason[:REASON_LENGTH]
    job.claimed_by = None
    if job.attempts > retries:
        job.status, job.lease_until, job.finished_at = AnalysisStatus.failed, None, now
    else:
        job.status, job.lease_until = AnalysisStatus.pending, now + retry_after
    await db.flush()
    return job.status


def supersedes(recording_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """What a recording's new analysis replaces: its earlier recording flags, whatever analyzer found them."""
    return and_(Flag.source == FlagSource.recording, Flag.recording_id == recording_id)


async def verified_recordings(db: AsyncSession, *, sitting_id: uuid.UUID) -> list[Recording]:
    query = select(Recording).where(Recording.sitting_id == sitting_id, Recording.status == RecordingStatus.verified).order_by(Recording.role)
    return list((await db.scalars(query)).all())


async def latest_by_role(db: AsyncSession, *, sitting_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[DeviceRole, AnalysisJob]]:
    """Each sitting's newest job per phone (the analysis of its current recording)."""
    found: dict[uuid.UUID, dict[DeviceRole, AnalysisJob]] = {s: {} for s in sitting_ids}
    if not sitting_ids:
        return found
    rows = await db.execute(
        select(AnalysisJob, Recording.role)
        .join(Recording, Recording.id == AnalysisJob.recording_id)
        .where(AnalysisJob.sitting_id.in_(sitting_ids))
        .order_by(AnalysisJob.queued_at, AnalysisJob.id)
    )
    for job, role in rows:
        found[job.sitting_id][role] = job  # ordered by queue time: the last one wins
    return found


@dataclass(frozen=True, slots=True)
class Failure:
    job_id: uuid.UUID
    sitting_id: uuid.UUID
    recording_id: uuid.UUID
    role: str
    attempts: int
    reason: str | None
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class QueueStatus:
    counts: dict[str, int]
    failures: list[Failure]


async def queue_status(db: AsyncSession, *, session_id: uuid.UUID | None = None) -> QueueStatus:
    """Jobs by status, and the failed ones with their reasons (of one session, or of all)."""
    query = select(AnalysisJob, Recording.role).join(Recording, Recording.id == AnalysisJob.recording_id)
    if session_id is not None:
        query = query.join(Sitting, Sitting.id == AnalysisJob.sitting_id).where(Sitting.session_id == session_id)
    rows = (await db.execute(query.order_by(AnalysisJob.queued_at, AnalysisJob.id))).all()
    counts = Counter(job.status.value for job, _ in rows)
    failures = [
        Failure(job.id, job.sitting_id, job.recording_id, role.value, job.attempts, job.failure_reason, job.finished_at)
        for job, role in rows
        if job.status is AnalysisStatus.failed
    ]
    return QueueStatus({s.value: counts.get(s.value, 0) for s in AnalysisStatus}, failures)
