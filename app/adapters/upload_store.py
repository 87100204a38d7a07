"""Upload store port: streamed, resumable writes for tus.

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

Implementations: app.adapters.local (files), app.adapters.s3; app.adapters.factory opens one from the storage URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

READ_SIZE = 1024 * 1024
# The local store copies body pieces (uvicorn hands over ≤256 KiB or so) into a buffer of this size; a full buffer
# is hashed and written in one worker-thread job while the event loop fills the next. Memory per write: two buffers.
WRITE_BATCH = 512 * 1024

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
    # finish() assembles the upload (S3: its last part, complete, a size check): slow enough to run after the
    # last PATCH's answer. False: the bytes are already whole (a local file).
    assembles_on_finish: bool

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
