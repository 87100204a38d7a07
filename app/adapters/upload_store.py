"""Upload store port (streamed, resumable writes for tus) and its local-files adapter.

The store keeps bytes; the database keeps the truth about them. A store is stateless between calls: everything
it must remember about an upload (an S3 UploadId, its part list, staged leftovers) travels in `state`, a small JSON
dict the tus layer commits together with the new offset. That is what lets any replica continue any upload.

Write protocol (one writer per upload at a time, the tus layer's lock guarantees it):
1. `write(upload, chunks, tap=...)` stores the bytes durably but *tentatively* and returns the new state; it hands
   every piece it stores to `tap`, in order, before it returns (the caller hashes there, off the event loop);
2. the caller commits `(offset + written, state)` with a compare-and-set, then calls `committed(old, new)` so the
   store can drop what the new state no longer needs (consumed S3 leftovers);
   or, if it decides not to keep them (checksum mismatch), `discard(upload, result)` while still holding the lock.
If `chunks` raises, the store undoes its tentative writes and re-raises; the committed upload is untouched.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse
from urllib.request import url2pathname

from app.adapters.storage import check_key

READ_SIZE = 1024 * 1024
# The local store copies body pieces (uvicorn hands over ≤256 KiB or so) into a buffer of this size; a full buffer
# is hashed and written in one worker-thread job while the event loop fills the next. Memory per write: two buffers.
WRITE_BATCH = 512 * 1024
WRITE_EAGER = 256 * 1024
IO_THREADS = 32  # blocking file work (writes, fdatasync) of all uploads; threads mostly wait on the disk

Tap = Callable[[Sequence[bytes | memoryview]], None]  # hashes stored data, in order


class UploadStoreError(Exception):
    """The store failed (network, permissions, missing bucket). Retryable from the client's point of view."""


class UploadDataMissing(UploadStoreError):
    """Bytes the state refers to are gone (deleted behind our back, or never completed)."""


class NotReadable(UploadStoreError):
    """This store cannot read this upload in its current state (e.g. an unfinished S3 multipart upload)."""


@dataclass(frozen=True)
class StoredUpload:
    """What a store is told about an upload: committed facts from the database row."""

    key: str
    offset: int
    length: int | None
    state: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteResult:
    written: int
    state: dict[str, Any]


@dataclass(frozen=True)
class StoreInfo:
    size: int  # bytes present for this upload (committed or not)
    complete: bool  # assembled into one object/file by finish()


class UploadStore(Protocol):
    async def create(self, key: str) -> dict[str, Any]:
        """Prepare a new upload; returns its initial state."""
        ...

    async def write(self, upload: StoredUpload, chunks: AsyncIterable[bytes], *, tap: Tap | None = None) -> WriteResult:
        """Append `chunks` at `upload.offset`; durable (fdatasync / stored object) when it returns, not yet committed.
        `tap(pieces)` sees every stored piece, in order, before this returns (possibly in a worker thread)."""
        ...

    async def committed(self, before: StoredUpload, after: StoredUpload) -> None:
        """The write was committed: drop what `after.state` no longer needs."""
        ...

    async def discard(self, upload: StoredUpload, result: WriteResult) -> None:
        """Undo an uncommitted write (the caller still holds the upload's lock)."""
        ...

    async def finish(self, upload: StoredUpload) -> dict[str, Any]:
        """All bytes are there (offset == length): assemble them into one object. Idempotent."""
        ...

    async def terminate(self, upload: StoredUpload) -> None:
        """Delete everything of this upload (termination, expiry). Idempotent."""
        ...

    def read(self, upload: StoredUpload, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Committed bytes [start, end) (end defaults to the committed offset), for hashing and probing."""
        ...

    async def info(self, upload: StoredUpload) -> StoreInfo: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class LocalUploadStore:
    """One file per upload under `root`: writes go at the committed offset, then fdatasync.

    Each write first truncates the file to the committed offset, so bytes of a write that was never committed (a
    crash between fdatasync and the database commit, a discarded chunk) are overwritten, never served; a file
    shorter than the committed offset is an error (UploadDataMissing), never filled with zeros. Meant for one host
    (or a shared POSIX file system with working fsync).

    Hashing and writing run in worker threads (`upload-io`), a buffer at a time, while the event loop receives the
    next piece (see `write`).
    """

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
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(path.parent)  # the new directory entry survives a crash too

    async def write(self, upload: StoredUpload, chunks: AsyncIterable[bytes], *, tap: Tap | None = None) -> WriteResult:
        pool = _io_pool()
        opening = pool.submit(_open_at, self._path(upload.key), upload.offset)
        try:
            fd = await asyncio.wrap_future(opening)
        except BaseException:
            _settle(opening, close_fd=True)
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
                _settle(job)
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


_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _io_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The process's file-I/O threads (not asyncio's default executor: fdatasyncs of many uploads would fill it)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = concurrent.futures.ThreadPoolExecutor(IO_THREADS, thread_name_prefix="upload-io")
    return _pool


async def run_io(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn` in the I/O threads; a cancelled caller still waits for a job that already started."""
    future = _io_pool().submit(fn, *args)
    try:
        return await asyncio.wrap_future(future)
    except BaseException:
        _settle(future)
        raise


def _settle(future: concurrent.futures.Future[Any], *, close_fd: bool = False) -> None:
    """Wait for a job we no longer await (cancelled or failed request); close the fd it opened, if asked."""
    concurrent.futures.wait([future])
    if close_fd and not future.cancelled() and future.exception() is None:
        os.close(future.result())


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


def open_upload_store(url: str) -> UploadStore:
    """`file:///abs/path` (files under path) or `s3://bucket[/prefix]?endpoint=…&region=…` (see app.adapters.s3)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalUploadStore(Path(url2pathname(parsed.path)))
    if parsed.scheme == "s3":
        from app.adapters.s3 import S3UploadStore  # imported lazily: aiobotocore is heavy

        return S3UploadStore.from_url(url)
    raise ValueError(f"unsupported storage url {url!r}")
