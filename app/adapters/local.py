"""Local-files adapters: the object store and the upload store on a directory of this host.

Both write durably before they return (fsync / fdatasync); the upload store's blocking work runs on the shared
upload I/O threads (app.adapters.io_threads).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import tempfile
import threading
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Any

from app.adapters.io_threads import io_pool, run_io, settle
from app.adapters.storage import ObjectNotFound, check_key
from app.adapters.upload_store import (
    READ_SIZE,
    WRITE_BATCH,
    StoredUpload,
    StoreInfo,
    Tap,
    UploadDataMissing,
    UploadStoreError,
    WriteResult,
)

# A buffer goes to a worker before it is full once it holds this much and the worker is idle (see `write`).
WRITE_EAGER = 256 * 1024


class LocalObjectStore:
    """Files under a root directory; writes are atomic (temp file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        await asyncio.to_thread(self._put_sync, self._path(key), data)

    @staticmethod
    def _put_sync(path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError as exc:
            raise ObjectNotFound(key) from exc

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise OSError(f"object store root {self.root} is not writable")


class LocalUploadStore:
    """One file per upload under `root`: writes go at the committed offset, then fdatasync.

    Each write first truncates the file to the committed offset, so bytes of a write that was never committed (a
    crash between fdatasync and the database commit, a discarded chunk) are overwritten, never served; a file
    shorter than the committed offset is an error (UploadDataMissing), never filled with zeros. Meant for one host
    (or a shared POSIX file system with working fsync).

    Hashing and writing run in worker threads (`upload-io`), a buffer at a time, while the event loop receives the
    next piece (see `write`).
    """

    assembles_on_finish = False

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def create(self, key: str) -> dict[str, Any]:
        await asyncio.to_thread(self._create_sync, self._path(key))
        return {}

    @staticmethod
    def _create_sync(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # No O_TRUNC: two creations of one id at once (the later one then answers the first's upload) must not
        # empty a file the first is already writing; a file left by a creation that failed half-way has no
        # committed bytes, and every write cuts the file back to the committed offset anyway.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o640)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(path.parent)  # the new directory entry survives a crash too

    async def write(self, upload: StoredUpload, chunks: AsyncIterable[bytes], *, tap: Tap | None = None) -> WriteResult:
        pool = io_pool()
        opening = pool.submit(_open_at, self._path(upload.key), upload.offset)
        try:
            fd = await asyncio.wrap_future(opening)
        except BaseException:
            settle(opening, close_fd=True)
            raise
        position = upload.offset
        # Two buffers: the event loop fills one while a worker thread hashes and writes the other. A buffer goes
        # when more bytes come and it is full, or holds WRITE_EAGER bytes and the worker is idle (so that little is
        # left for the last job, after the body's last byte); the last one goes with the fdatasync.
        filling, flushing = _BUFFERS.take(), _BUFFERS.take()
        fill = 0
        job: concurrent.futures.Future[None] | None = None
        try:
            async for chunk in chunks:
                piece = memoryview(chunk)
                while piece:
                    if fill == WRITE_BATCH or (fill >= WRITE_EAGER and (job is None or job.done())):
                        if job is not None:
                            await asyncio.wrap_future(job)
                        job = pool.submit(_store, fd, filling, fill, position, tap, False)
                        filling, flushing = flushing, filling
                        position += fill
                        fill = 0
                    n = min(len(piece), WRITE_BATCH - fill)
                    filling[fill : fill + n] = piece[:n]
                    fill += n
                    piece = piece[n:]
            if job is not None:
                await asyncio.wrap_future(job)
            job = pool.submit(_store, fd, filling, fill, position, tap, True)
            await asyncio.wrap_future(job)
            position += fill
        except BaseException:
            # A job still running would write behind our back: wait for it (≤ one batch), then cut the file
            # back to the committed length — in the event loop on purpose, so a cancelled request does it too.
            if job is not None:
                settle(job)
            _truncate(fd, upload.offset)
            raise
        finally:
            os.close(fd)
            _BUFFERS.give(filling)
            _BUFFERS.give(flushing)
        return WriteResult(written=position - upload.offset, state=dict(upload.state))

    async def committed(self, before: StoredUpload, after: StoredUpload) -> None:
        return None

    async def discard(self, upload: StoredUpload, result: WriteResult) -> None:
        await run_io(_cut, self._path(upload.key), upload.offset)

    async def finish(self, upload: StoredUpload) -> dict[str, Any]:
        size = (await self.info(upload)).size
        if upload.length is not None and size < upload.length:
            raise UploadDataMissing(f"{upload.key}: {size} bytes on disk, {upload.length} committed")
        return {**upload.state, "complete": True}

    async def terminate(self, upload: StoredUpload) -> None:
        await asyncio.to_thread(self._path(upload.key).unlink, missing_ok=True)

    async def read(self, upload: StoredUpload, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        end = upload.offset if end is None else end
        try:
            handle = await asyncio.to_thread(self._path(upload.key).open, "rb")
        except FileNotFoundError as exc:
            raise UploadDataMissing(upload.key) from exc
        try:
            await asyncio.to_thread(handle.seek, start)
            position = start
            while position < end:
                data = await asyncio.to_thread(handle.read, min(READ_SIZE, end - position))
                if not data:
                    raise UploadDataMissing(f"{upload.key}: ends at {position}, expected {end}")
                position += len(data)
                yield data
        finally:
            handle.close()

    async def info(self, upload: StoredUpload) -> StoreInfo:
        try:
            size = (await asyncio.to_thread(self._path(upload.key).stat)).st_size
        except FileNotFoundError as exc:
            raise UploadDataMissing(upload.key) from exc
        return StoreInfo(size=size, complete=bool(upload.state.get("complete")))

    def local_path(self, upload: StoredUpload) -> Path:
        """Optional capability: the file itself (PyAV probes it without copying)."""
        return self._path(upload.key)

    async def ping(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not os.access(self.root, os.W_OK):
            raise UploadStoreError(f"upload store root {self.root} is not writable")

    async def close(self) -> None:
        return None


def _open_at(path: Path, offset: int) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o640)
    try:
        size = os.fstat(fd).st_size
        if size < offset:
            raise UploadDataMissing(f"{path.name}: {size} bytes on disk, {offset} committed")
        if size > offset:
            os.ftruncate(fd, offset)  # drop bytes of an uncommitted earlier write
    except BaseException:
        os.close(fd)
        raise
    return fd


class _BufferPool:
    """Write buffers of WRITE_BATCH bytes, reused: no page faults for fresh memory on every batch, and a resident
    size that follows the number of uploads being written (two buffers each), not their sizes."""

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._free: list[bytearray] = []
        self._lock = threading.Lock()

    def take(self) -> bytearray:
        with self._lock:
            if self._free:
                return self._free.pop()
        return bytearray(WRITE_BATCH)

    def give(self, buffer: bytearray) -> None:
        with self._lock:
            if len(self._free) < self._keep:
                self._free.append(buffer)


_BUFFERS = _BufferPool(keep=32)


def _store(fd: int, buffer: bytearray, size: int, position: int, tap: Tap | None, sync: bool) -> None:
    """One worker-thread job: hash `buffer[:size]` (tap), write it at `position`, fdatasync if asked. A few large
    calls that each let go of the GIL: fewer hand-overs of the GIL to and from the event loop's thread."""
    if size:
        data = memoryview(buffer)[:size]
        if tap is not None:
            tap((data,))
        while data:
            written = os.pwrite(fd, data, position)
            data, position = data[written:], position + written
    if sync:
        os.fdatasync(fd)  # the data and the file's new size: all a read after a crash needs


def _truncate(fd: int, offset: int) -> None:
    os.ftruncate(fd, offset)
    os.fsync(fd)


def _cut(path: Path, offset: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        _truncate(fd, offset)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
