"""Verification of finished uploads: PyAV reads the recording, and the result settles it (verified or failed; both
verified make the sitting uploaded). The tus server is seen through a small reader port, so whatever follows a
verified recording (analysis) hangs on `Verifier.on_verified`, not on the upload route.

The final PATCH does not wait for it: every phone sends its last chunk at the answer's end, and probes queued behind
each other would hold those requests open for as long as the queue. The upload is durable and hashed when it
finishes; `submit` queues the probe (a few at a time, so serving keeps the CPU), the phone asks for the outcome,
and the sitting counts as uploaded from its last byte's arrival, however late the probe ran. A process that dies
with probes queued leaves them to the scheduler's pass over leftovers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import anyio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.adapters.hub import Hub
from app.clock import Clock
from app.db import transaction
from app.logs import get_logger
from app.models import Recording, RecordingStatus
from app.services.recordings import recordings
from app.services.recordings.media import MediaInfo, MediaUnreadable, probe
from app.services.recordings.scratch import local_copy
from app.uploads import Upload

log = get_logger(__name__)

OnVerified = Callable[[Recording], Awaitable[None]]

# Probes at once per process (each a thread reading one file with PyAV), and how long a finished upload is left to
# the process that queued it before another replica's leftovers pass takes it too.
PROBES_AT_ONCE = 2
LEFTOVER_AFTER = timedelta(minutes=2)


class UploadReader(Protocol):
    """What verification needs of the tus server (app.uploads.TusApp): its uploads' facts and their bytes."""

    async def get(self, upload_id: str) -> Upload | None: ...

    async def get_many(self, upload_ids: Sequence[str]) -> dict[str, Upload]: ...

    def local_path(self, upload: Upload) -> Path | None:
        """The upload's file when the store keeps it locally; None for a remote store."""
        ...

    def read(self, upload: Upload) -> AsyncIterator[bytes]: ...


class Verifier:
    def __init__(
        self, *, sessionmaker: async_sessionmaker[AsyncSession], hub: Hub, clock: Clock, reader: UploadReader, scratch_dir: Path
    ) -> None:
        self._sessionmaker = sessionmaker
        self._hub = hub
        self._clock = clock
        self._reader = reader
        self._scratch = scratch_dir
        self.on_verified: list[OnVerified] = []  # run after a recording's verification is committed
        self._probes = asyncio.Semaphore(PROBES_AT_ONCE)
        self._queued: dict[str, asyncio.Task[None]] = {}

    def submit(self, upload_id: str) -> None:
        """Queue the verification of a finished upload (the tus server's post_finish)."""
        if upload_id in self._queued:
            return
        task = asyncio.get_running_loop().create_task(self._queued_verify(upload_id))
        self._queued[upload_id] = task
        task.add_done_callback(lambda _: self._queued.pop(upload_id, None))

    async def _queued_verify(self, upload_id: str) -> None:
        async with self._probes:
            try:
                await self.verify(upload_id)
            except Exception:  # the database or the store away for a moment: the leftovers pass tries again
                log.exception("recording.verify.failed", upload_id=upload_id)

    async def settled(self) -> None:
        """Wait for the queued verifications, and what follows each (on_verified)."""
        while self._queued:
            await asyncio.gather(*list(self._queued.values()), return_exceptions=True)

    async def stop(self) -> None:
        """Shutdown: probes not done are the leftovers pass's."""
        tasks = list(self._queued.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def verify(self, upload_id: str) -> Recording | None:
        """Probe a finished upload and settle its recording. Idempotent: a recording already settled, or an upload
        that carries none, is left alone (the scheduler calls this for leftovers of a crash)."""
        async with transaction(self._sessionmaker) as db:
            if await recordings.pending_recording(db, upload_id) is None:
                return None
        upload = await self._reader.get(upload_id)
        if upload is None or upload.finished_at is None:
            return None
        info: MediaInfo | None = None
        failure: str | None = None
        async with self._local_copy(upload) as path:
            try:
                info = await anyio.to_thread.run_sync(probe, path)
            except MediaUnreadable as exc:
                failure = exc.reason
        async with transaction(self._sessionmaker, self._hub) as db:
            recording = await recordings.settle(db, upload=upload, info=info, failure=failure, uploads=self._reader, now=self._clock.now())
        if recording is None:
            return None
        log.info("recording.settled", upload_id=upload_id, status=recording.status.value, duration=recording.duration_seconds, reason=recording.failure_reason)
        if recording.status is RecordingStatus.verified:
            for hook in self.on_verified:
                try:
                    await hook(recording)
                except Exception:  # what follows a verification never undoes it
                    log.exception("recording.on_verified.failed", recording_id=str(recording.id))
        return recording

    async def verify_leftovers(self) -> None:
        """Uploads finished a while ago but never verified (the process that queued them died)."""
        async with transaction(self._sessionmaker) as db:
            pending = await recordings.unverified_finished(db, uploads=self._reader, before=self._clock.now() - LEFTOVER_AFTER)
        for upload_id in pending:
            if upload_id not in self._queued:
                async with self._probes:
                    await self.verify(upload_id)

    def _local_copy(self, upload: Upload) -> contextlib.AbstractAsyncContextManager[Path]:
        return local_copy(self._reader, upload, self._scratch)


class UploadUpkeep(Protocol):
    """The tus server's own upkeep (app.uploads.TusApp)."""

    async def expire_uploads(self) -> object: ...

    async def finish_pending(self) -> object: ...


async def maintain(uploads: UploadUpkeep, verifier: Verifier) -> None:
    """One scheduler pass over the uploads: expire the ones past their deadline, finish and verify leftovers of a
    crash. Only the scheduler's leader runs it."""
    await uploads.expire_uploads()
    await uploads.finish_pending()
    await verifier.verify_leftovers()
