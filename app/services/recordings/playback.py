"""Playback copies: MediaRecorder's WebM has no duration and no cues, so a browser cannot seek it. After a recording
is verified, PyAV remuxes it (the same packets, no re-encode) into a WebM whose muxer writes both, and the copy goes
to the upload store beside the original (streamed, so local files and S3 alike, never whole in memory). The original
bytes and their sha256 stay the evidence; reviewers watch the copy and download the original.

A copy is made in the background after verification (the phone's last PATCH does not wait for it) and by the
scheduler's backfill for recordings verified before copies existed or whose copy was cut short by a restart (left
to the process that verified it for `LEFT_FOR`, so a copy waiting its turn there is not made twice). A recording
whose copy cannot be made keeps the reason and is served as it is."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Protocol

import anyio
import av
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.adapters.upload_store import READ_SIZE, StoredUpload, UploadStore
from app.clock import Clock
from app.db import transaction
from app.logs import get_logger
from app.models import Recording, RecordingStatus
from app.services.recordings.scratch import UploadBytes, local_copy, scratch_path
from app.uploads import Upload

log = get_logger(__name__)

KEY_PREFIX = "playback/"
# Copies made at once per process: after the answer's end a whole hall's recordings are verified within minutes,
# and the copies (a remux, a read and a write of the whole file) wait their turn rather than take the CPU and the
# database pool from the phones still uploading. The original plays meanwhile.
COPIES_AT_ONCE = 2
LEFT_FOR = timedelta(minutes=10)
BACKFILL_BATCH = 10


class PlaybackReader(UploadBytes, Protocol):
    async def get(self, upload_id: str) -> Upload | None: ...


def remux(source: Path, target: Path) -> None:
    """The audio and video packets of `source` into a WebM at `target` (a seekable file: the muxer goes back to
    write the duration and the cues). A damaged tail ends the copy where the readable packets end."""
    with av.open(str(source)) as src, av.open(str(target), "w", format="webm") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams if s.type in ("video", "audio")}
        try:
            for packet in src.demux(*[s for s in src.streams if s.index in streams]):
                if packet.dts is None:
                    continue  # the demuxer's flush packet
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
        except (av.FFmpegError, OSError, ValueError) as exc:
            log.warning("recording.playback.damaged_tail", source=source.name, error=str(exc)[:200])


def stored(recording: Recording) -> StoredUpload | None:
    """The copy as the upload store knows it, when there is a current one."""
    if recording.playback_key is None or recording.playback_size is None or recording.playback_of != recording.sha256:
        return None
    return StoredUpload(recording.playback_key, recording.playback_size, recording.playback_size, recording.playback_state or {})


class PlaybackCopies:
    def __init__(
        self, *, sessionmaker: async_sessionmaker[AsyncSession], reader: PlaybackReader, store: UploadStore, scratch_dir: Path, clock: Clock
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._reader = reader
        self._store = store
        self._scratch = scratch_dir
        self._tasks: set[asyncio.Task[bool]] = set()
        self._busy: set[uuid.UUID] = set()
        self._slots = asyncio.Semaphore(COPIES_AT_ONCE)

    async def on_verified(self, recording: Recording) -> None:
        """Verifier.on_verified: make the copy in the background."""
        task = asyncio.get_running_loop().create_task(self._in_background(recording.id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settled(self) -> None:
        """Wait for the copies being made."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Shutdown: a copy cut short is made again by the backfill."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _in_background(self, recording_id: uuid.UUID) -> bool:
        try:
            return await self.make(recording_id)
        except Exception:  # the database away or busy: the backfill makes it later
            log.exception("recording.playback.failed", recording_id=str(recording_id))
            return False

    async def make(self, recording_id: uuid.UUID) -> bool:
        """Make the recording's copy unless it has a current one; False when there is none to make or it failed."""
        if recording_id in self._busy:
            return False
        self._busy.add(recording_id)
        try:
            async with self._slots:
                return await self._make(recording_id)
        finally:
            self._busy.discard(recording_id)

    async def _make(self, recording_id: uuid.UUID) -> bool:
        async with transaction(self._sessionmaker) as db:
            recording = await db.get(Recording, recording_id)
            if recording is None or recording.status is not RecordingStatus.verified or stored(recording) is not None:
                return False
            upload_id, sha256 = recording.upload_id, recording.sha256
        upload = await self._reader.get(upload_id)
        if upload is None or upload.finished_at is None:
            return False
        target = scratch_path(self._scratch, str(recording_id), ".webm")
        target.parent.mkdir(parents=True, exist_ok=True)
        key = f"{KEY_PREFIX}{recording_id}-{(sha256 or 'unknown')[:16]}.webm"
        try:
            async with local_copy(self._reader, upload, self._scratch) as source:
                await anyio.to_thread.run_sync(remux, source, target)
            size = target.stat().st_size
            state = await self._put(key, target, size)
        except Exception as exc:  # an unreadable original, the store away: the original is served meanwhile
            log.exception("recording.playback.failed", recording_id=str(recording_id))
            async with transaction(self._sessionmaker) as db:
                recording = await db.get(Recording, recording_id)
                if recording is not None:
                    recording.playback_error = f"{type(exc).__name__}: {exc}"[:300]
            return False
        finally:
            target.unlink(missing_ok=True)
        async with transaction(self._sessionmaker) as db:
            recording = await db.get(Recording, recording_id)
            if recording is None or recording.sha256 != sha256:
                return False  # sent again meanwhile: its own verification makes its copy
            recording.playback_key, recording.playback_size, recording.playback_state = key, size, state
            recording.playback_of, recording.playback_error = sha256, None
        log.info("recording.playback.made", recording_id=str(recording_id), size=size)
        return True

    async def _put(self, key: str, path: Path, size: int) -> dict[str, object]:
        state = await self._store.create(key)
        empty = StoredUpload(key, 0, size, state)
        written = await self._store.write(empty, _chunks(path))
        full = StoredUpload(key, written.written, size, written.state)
        await self._store.committed(empty, full)
        return await self._store.finish(full)

    def read(self, copy: StoredUpload, start: int, end: int) -> AsyncIterator[bytes]:
        return self._store.read(copy, start, end)

    async def backfill(self) -> int:
        """One scheduler pass: copies for recordings verified `LEFT_FOR` ago or more that lack a current one (and have
        not failed)."""
        async with transaction(self._sessionmaker) as db:
            lacking = or_(Recording.playback_of.is_(None), Recording.playback_of != Recording.sha256)
            settled = Recording.verified_at <= self._clock.now() - LEFT_FOR
            query = (
                select(Recording.id)
                .where(Recording.status == RecordingStatus.verified, Recording.playback_error.is_(None), lacking, settled)
                .order_by(Recording.verified_at)
                .limit(BACKFILL_BATCH)
            )
            due = list(await db.scalars(query))
        made = 0
        for recording_id in due:
            made += await self.make(recording_id)
        return made


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        while data := await handle.read(READ_SIZE):
            yield data
