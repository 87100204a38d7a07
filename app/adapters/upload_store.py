"""Upload store port (streamed, resumable writes for tus) and its local-files adapter.

The store keeps bytes; the database keeps the truth about them. A store is stateless between calls: everything
it must remember about an upload (an S3 UploadId, its part list, staged leftovers) travels in `state`, a small JSON
dict the tus layer commits together with the new offset. That is what lets any replica continue any upload.

Write protocol (one writer per upload at a time, the tus layer's lock guarantees it):
1. `write(upload, chunks)` stores the bytes durably but *tentatively* and returns the new state;
2. the caller commits `(offset + written, state)` with a compare-and-set, then calls `committed(old, new)` so the
   store can drop what the new state no longer needs (consumed S3 leftovers);
   or, if it decides not to keep them (checksum mismatch), `discard(upload, result)` while still holding the lock.
If `chunks` raises, the store undoes its tentative writes and re-raises; the committed upload is untouched.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse
from urllib.request import url2pathname

from app.adapters.storage import check_key

READ_SIZE = 1024 * 1024
# The local store batches small body pieces (uvicorn hands over ≤64 KiB) into one thread hop per MiB.
WRITE_BATCH = 1024 * 1024


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

    async def write(self, upload: StoredUpload, chunks: AsyncIterable[bytes]) -> WriteResult:
        """Append `chunks` at `upload.offset`; durable (fsync / stored object) when it returns, not yet committed."""
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
    """One file per upload under `root`: writes go at the committed offset, then fsync.

    Each write first truncates the file to the committed offset, so bytes of a write that was never committed (a
    crash between fsync and the database commit, a discarded chunk) are overwritten, never served. Meant for one
    host (or a shared POSIX file system with working fsync).
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

    async def write(self, upload: StoredUpload, chunks: AsyncIterable[bytes]) -> WriteResult:
        path = self._path(upload.key)
        fd = await asyncio.to_thread(_open_at, path, upload.offset)
        written = 0
        batch = bytearray()
        try:
            async for chunk in chunks:
                batch += chunk
                if len(batch) >= WRITE_BATCH:
                    await asyncio.to_thread(_write_all, fd, bytes(batch))
                    written += len(batch)
                    batch.clear()
            if batch:
                await asyncio.to_thread(_write_all, fd, bytes(batch))
                written += len(batch)
            await asyncio.to_thread(os.fsync, fd)
        except BaseException:
            # In the event loop on purpose: a cancelled request must still leave the committed length behind.
            _truncate(fd, upload.offset)
            raise
        finally:
            os.close(fd)
        return WriteResult(written=written, state=dict(upload.state))

    async def committed(self, before: StoredUpload, after: StoredUpload) -> None:
        return None

    async def discard(self, upload: StoredUpload, result: WriteResult) -> None:
        path = self._path(upload.key)
        fd = await asyncio.to_thread(os.open, path, os.O_WRONLY)
        try:
            await asyncio.to_thread(_truncate, fd, upload.offset)
        finally:
            os.close(fd)

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
        os.ftruncate(fd, offset)  # drop bytes of an uncommitted earlier write
        os.lseek(fd, offset, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _truncate(fd: int, offset: int) -> None:
    os.ftruncate(fd, offset)
    os.fsync(fd)


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
