"""Verification of finished uploads: PyAV reads the recording, and the result settles it (verified or failed; both
verified make the sitting uploaded). The tus server is seen through a small reader port, so whatever follows a
verified recording (analysis) hangs on `Verifier.on_verified`, not on the upload route."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
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
        """Uploads finished but never verified (the process died in between)."""
        async with transaction(self._sessionmaker) as db:
            pending = await recordings.unverified_finished(db, uploads=self._reader)
        for upload_id in pending:
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
