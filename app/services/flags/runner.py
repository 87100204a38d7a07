"""The analysis runner of one process: claims jobs from the queue, streams each recording to a local file, has a
worker process analyse it, and stores the flags. The loop is started in the app's lifespan (setting
`flags_runner_enabled`); `dualcam flags run` and the tests drive `run_pending` by hand.

The analysis is CPU-bound: it runs in a ProcessPoolExecutor (`flags_workers` processes, spawned; each loads the face
engine once and is replaced after `flags_tasks_per_child` jobs, which bounds what a leak can grow to). While a
worker runs, the runner writes its progress and extends the claim at most every `flags_progress_seconds`."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from queue import Empty
from typing import Any, Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import errors
from app.adapters.hub import Hub
from app.clock import Clock
from app.config import Settings
from app.db import publish_after_commit, transaction
from app.flags import ANALYZER_VERSION
from app.flags.thresholds import Thresholds
from app.logs import get_logger
from app.models import AnalysisJob, AnalysisStatus, Candidate, FlagSource, Recording, RecordingStatus, Sitting
from app.services.face.engine import Faces
from app.services.face.enrolment import enrolment_for
from app.services.flags import events, jobs, worker
from app.services.flags.queue import Claim, JobQueue
from app.services.flags.store import NewFlag, put
from app.services.flags.timeline import recording_starts
from app.services.recordings.scratch import UploadBytes, local_copy
from app.services.sitting import sittings
from app.services.sitting.channels import staff_session_channel
from app.uploads import Upload

log = get_logger(__name__)
ANALYSING = "分析录像 Analysing recordings"
Steps = Callable[[str, int, int], None]  # (what, done, total)


class UploadReader(UploadBytes, Protocol):
    async def get(self, upload_id: str) -> Upload | None: ...


@dataclass(frozen=True, slots=True)
class RunPolicy:
    workers: int
    tasks_per_child: int
    lease: timedelta
    progress_every: float  # seconds of wall time
    retries: int
    retry_after: timedelta
    poll: float
    short_by: timedelta

    @classmethod
    def of(cls, settings: Settings) -> RunPolicy:
        return cls(
            workers=settings.flags_workers,
            tasks_per_child=settings.flags_tasks_per_child,
            lease=timedelta(seconds=settings.flags_lease_seconds),
            progress_every=settings.flags_progress_seconds,
            retries=settings.flags_retries,
            retry_after=timedelta(seconds=settings.flags_retry_seconds),
            poll=settings.flags_poll_seconds,
            short_by=timedelta(seconds=settings.flags_short_recording_seconds),
        )


@dataclass(frozen=True, slots=True)
class JobRun:
    """What one attempt of a job came to: done, pending (to be retried), failed, or lost (the claim ran out and
    another worker took the job; this attempt's result was dropped)."""

    job_id: uuid.UUID
    recording_id: uuid.UUID
    sitting_id: uuid.UUID
    status: str
    attempts: int
    flags: int = 0
    reason: str | None = None
    memory: worker.Memory | None = None  # the worker's, after the job
    niceness: int | None = None  # the worker's scheduling priority


class _Failed(Exception):
    """An attempt that cannot go on, with the reason kept on the job."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Prepared:
    recording: Recording
    upload: Upload
    session_id: uuid.UUID
    reference: bytes | None
    reference_note: str | None


class Runner:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        hub: Hub,
        clock: Clock,
        queue: JobQueue,
        reader: UploadReader,
        faces: Faces | None,
        settings: Settings,
        scratch_dir: Path,
        analyzer_version: str = ANALYZER_VERSION,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._hub = hub
        self._clock = clock
        self._queue = queue
        self._reader = reader
        self._faces = faces  # None: the face engine did not load (face.engine.unavailable); nothing is claimed
        self._model_dir = settings.resolved_face_model_dir
        self._pack = settings.face_pack
        self._thresholds = Thresholds.of(settings)
        self.policy = RunPolicy.of(settings)
        self._scratch = scratch_dir
        self.analyzer_version = analyzer_version
        self.worker_id = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pool: ProcessPoolExecutor | None = None
        self._progress: Any = None  # the pool's multiprocessing queue of (job id, fraction)
        self._latest: dict[str, float] = {}
        self._pass = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- what follows a verified recording ---------------------------------------------------------------------

    async def on_verified(self, recording: Recording) -> None:
        """Verifier.on_verified: queue the recording's analysis and derive the sitting's event flags again."""
        now = self._clock.now()
        async with transaction(self._sessionmaker) as db:
            job = await jobs.enqueue(db, recording=recording, analyzer_version=self.analyzer_version, now=now)
            await events.derive(db, sitting_id=recording.sitting_id, now=now, short_by=self.policy.short_by)
        log.info("flags.job.queued", job_id=str(job.id), recording_id=str(recording.id), role=recording.role.value)
        self.wake()

    # --- the loop ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_pending()
            except Exception:  # the database is away for a moment: try again on the next round
                log.exception("flags.runner.pass.failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.policy.poll):
                    await self._wake.wait()
            self._wake.clear()

    async def stop(self) -> None:
        """Stop the loop and the workers. A job cut short stays claimed until its lease ends, then runs again."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._drop_pool()

    # --- one pass ----------------------------------------------------------------------------------------------

    async def run_pending(self, *, session_id: uuid.UUID | None = None, steps: Steps | None = None) -> list[JobRun]:
        """Run every job claimable now (of one session, when given), `flags_workers` at a time, until none is left;
        first queue the verified recordings that lack a job of this analyzer version. `steps(what, done, total)`
        hears each job end (the CLI's progress bar; the total is the jobs pending at the start)."""
        if self._faces is None:
            log.warning("flags.runner.no_engine", fix="dualcam models fetch, then restart: the analysis needs the face engine")
            return []
        async with self._pass:
            async with transaction(self._sessionmaker) as db:
                await jobs.enqueue_missing(db, analyzer_version=self.analyzer_version, now=self._clock.now(), session_id=session_id)
                total = (await jobs.queue_status(db, session_id=session_id)).counts["pending"] if steps else 0
            claim = Claim(worker=self.worker_id, lease=self.policy.lease, analyzer_version=self.analyzer_version, session_id=session_id)
            runs: list[JobRun] = []
            if steps:
                steps(ANALYSING, 0, total)
            await asyncio.gather(*(self._lane(claim, runs, steps, total) for _ in range(self.policy.workers)))
            return runs

    async def _lane(self, claim: Claim, runs: list[JobRun], steps: Steps | None, total: int) -> None:
        while True:
            async with transaction(self._sessionmaker) as db:
                job = await self._queue.claim(db, claim=claim, now=self._clock.now())
            if job is None:
                return
            log.info("flags.job.claimed", job_id=str(job.id), attempt=job.attempts, worker=self.worker_id)
            runs.append(await self._run(job))
            if steps:
                steps(ANALYSING, len(runs), max(total, len(runs)))  # a retried job runs again: more runs than jobs

    async def _run(self, job: AnalysisJob) -> JobRun:
        started = time.monotonic()
        try:
            prepared = await self._prepare(job)
            async with local_copy(self._reader, prepared.upload, self._scratch) as path:
                outcome = await self._analyse(job, prepared, path)
            if outcome is None:
                return self._lost(job)
            if outcome.analysis is None:
                raise _Failed(outcome.reason or "unreadable")
            stored = await self._store(job, prepared, outcome)
        except _Failed as exc:
            return await self._fail(job, exc.reason)
        except Exception as exc:  # a bug, the store unreachable, a dead worker: the job is retried
            log.exception("flags.job.error", job_id=str(job.id))
            return await self._fail(job, f"{type(exc).__name__}: {exc}")
        if stored is None:
            return self._lost(job)
        seconds = round(time.monotonic() - started, 2)
        memory = outcome.memory
        log.info("flags.job.done", job_id=str(job.id), flags=stored, seconds=seconds, rss_mb=memory.rss_mb, private_mb=memory.private_mb, peak_mb=memory.peak_mb)
        return JobRun(job.id, job.recording_id, job.sitting_id, AnalysisStatus.done.value, job.attempts, flags=stored, memory=memory, niceness=outcome.niceness)

    async def _prepare(self, job: AnalysisJob) -> _Prepared:
        """The recording (still the bytes the job is for), its upload, and the candidate's enrolled face (main)."""
        assert self._faces is not None
        now = self._clock.now()
        async with transaction(self._sessionmaker) as db:
            recording = await db.get(Recording, job.recording_id)
            if recording is None or recording.status is not RecordingStatus.verified or recording.sha256 != job.sha256:
                raise _Failed("the recording is no longer the one queued (sent again or removed)")
            query = select(Candidate, Sitting.session_id).join(Sitting, Sitting.candidate_id == Candidate.id).where(Sitting.id == job.sitting_id)
            candidate, session_id = (await db.execute(query)).one()
            reference, note = None, None
            if recording.role.value == "main":
                try:
                    enrolment = await enrolment_for(db, candidate=candidate, faces=self._faces, now=now)
                    reference = np.frombuffer(enrolment.embedding, dtype="<f4").tobytes()
                except errors.DualcamError as exc:  # no usable ID photo: the analysis runs without a reference
                    if exc.status >= 500:
                        raise
                    note = exc.code
        upload = await self._reader.get(recording.upload_id)
        if upload is None or upload.finished_at is None:
            raise _Failed("the recording's upload is gone")
        return _Prepared(recording, upload, session_id, reference, note)

    async def _analyse(self, job: AnalysisJob, prepared: _Prepared, path: Path) -> worker.Outcome | None:
        """Run the worker, writing progress and extending the claim while it works; None when the claim was lost."""
        task = worker.Task(str(job.id), str(path), prepared.recording.role.value, prepared.reference, self._thresholds)
        future = asyncio.wrap_future(self._worker_pool().submit(worker.analyse, task))
        try:
            while True:
                done, _ = await asyncio.wait({future}, timeout=self.policy.progress_every)
                if done:
                    return future.result()
                self._drain_progress()
                async with transaction(self._sessionmaker) as db:
                    ours = await jobs.renew(db, job_id=job.id, worker=self.worker_id, progress=self._latest.get(str(job.id), 0.0), now=self._clock.now(), lease=self.policy.lease)
                if not ours:
                    return None
        except BrokenProcessPool:
            self._drop_pool()  # a worker died (killed for memory?): the next job gets a fresh pool
            raise
        finally:
            self._latest.pop(str(job.id), None)

    async def _store(self, job: AnalysisJob, prepared: _Prepared, outcome: worker.Outcome) -> int | None:
        """The job done and its flags stored in one transaction; None when the claim was lost meanwhile."""
        analysis = outcome.analysis
        assert analysis is not None
        rec = prepared.recording
        now = self._clock.now()
        async with transaction(self._sessionmaker, self._hub) as db:
            if not await jobs.finish(db, job_id=job.id, worker=self.worker_id, now=now):
                return None
            view = await sittings.load(db, sitting_id=job.sitting_id, now=now)
            start = (await recording_starts(db, view=view))[rec.role]
            flags = [
                NewFlag(
                    origin=f"recording:{job.sha256}:{job.analyzer_version}:{n}", kind=f.kind, role=rec.role, source=FlagSource.recording,
                    start_s=round(f.start_s, 3), end_s=round(f.end_s, 3), started_at=start + timedelta(seconds=f.start_s),
                    ended_at=start + timedelta(seconds=f.end_s), value=f.value,
                    detail={**f.detail, **({"reference": prepared.reference_note} if prepared.reference_note else {})},
                    recording_id=rec.id, analyzer_version=job.analyzer_version,
                )  # fmt: skip
                for n, f in enumerate(analysis.flags)
            ]
            await put(db, sitting_id=job.sitting_id, flags=flags, now=now, replaces=jobs.supersedes(rec.id))
            message = {"type": "flags.analysed", "session_id": str(prepared.session_id), "sitting_id": str(job.sitting_id), "role": rec.role.value, "flags": len(flags)}
            publish_after_commit(db, staff_session_channel(prepared.session_id), message)
        return len(flags)

    async def _fail(self, job: AnalysisJob, reason: str) -> JobRun:
        async with transaction(self._sessionmaker) as db:
            status = await jobs.fail(db, job_id=job.id, worker=self.worker_id, reason=reason, now=self._clock.now(), retries=self.policy.retries, retry_after=self.policy.retry_after)
        if status is None:
            return self._lost(job)
        log.warning("flags.job.failed", job_id=str(job.id), attempt=job.attempts, reason=reason, status=status.value)
        return JobRun(job.id, job.recording_id, job.sitting_id, status.value, job.attempts, reason=reason)

    def _lost(self, job: AnalysisJob) -> JobRun:
        log.warning("flags.job.lost", job_id=str(job.id), worker=self.worker_id)
        return JobRun(job.id, job.recording_id, job.sitting_id, "lost", job.attempts)

    # --- the worker processes ----------------------------------------------------------------------------------

    def _worker_pool(self) -> ProcessPoolExecutor:
        """Started on the first job, not with the app: a process that never analyses never spawns workers."""
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._progress = context.Queue()
            self._pool = ProcessPoolExecutor(
                max_workers=self.policy.workers,
                mp_context=context,
                initializer=worker.start,
                initargs=(str(self._model_dir), self._pack, self._progress),
                max_tasks_per_child=self.policy.tasks_per_child,
            )
        return self._pool

    def _drain_progress(self) -> None:
        while True:
            try:
                job_id, fraction = self._progress.get_nowait()
            except Empty:
                return
            self._latest[job_id] = max(fraction, self._latest.get(job_id, 0.0))

    def _drop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # A running analysis would hold a shutdown for minutes: its process is ended (its job runs again once its
        # lease is over). ProcessPoolExecutor has no public way to end its workers before Python 3.14.
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        if self._progress is not None:
            self._progress.close()
            self._progress = None
