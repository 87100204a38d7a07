"""Upload state: what the tus server knows about an upload, and the port that keeps it (`UploadState`).

Every method is one short transaction. Nothing holds a database connection while a request body streams in:
the write lock is a lease in the row (token + expiry), taken and released with compare-and-set updates, and a
write is committed with a compare-and-set on (lock token, offset). That works the same on SQLite and
PostgreSQL and across processes; see app.uploads.tus for the rule. The implementation: app.uploads.sql_state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Upload:
    """One upload as the protocol and the callbacks see it (a snapshot of its row)."""

    id: str
    owner: str
    subject: str | None
    offset: int
    length: int | None
    max_size: int | None
    metadata: dict[str, str]
    storage_key: str
    store_state: dict[str, Any]
    chain_sha256: str
    chunk_count: int
    sha256: str | None
    expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    gone_at: datetime | None = None
    gone_reason: str | None = None
    completed_at: datetime | None = None  # when the last byte was committed (finishing may come later)

    @property
    def deferred(self) -> bool:
        return self.length is None

    @property
    def complete(self) -> bool:
        """All bytes are in (the store may not have assembled them yet: see `finished_at`)."""
        return self.length is not None and self.offset == self.length

    def expired(self, now: datetime) -> bool:
        """Past its expiry with bytes missing. A complete upload never expires: its bytes were all in before the
        expiry, and only its finish (e.g. S3 was down) is pending."""
        return self.finished_at is None and not self.complete and self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True)
class NewUpload:
    id: str
    owner: str
    subject: str | None
    length: int | None
    max_size: int | None
    metadata: dict[str, str]
    storage_key: str
    store_state: dict[str, Any]
    expires_at: datetime | None
    now: datetime


@dataclass(frozen=True)
class Changes:
    """What a committed write changes; None leaves a column as it is."""

    offset: int | None = None
    length: int | None = None
    store_state: dict[str, Any] | None = None
    chain_sha256: str | None = None
    chunk_count: int | None = None
    sha256: str | None = None
    finished_at: datetime | None = None
    completed_at: datetime | None = None
    release_lock: bool = False


@dataclass(frozen=True)
class Lease:
    held: bool
    release_requested: bool = False


class UploadExists(Exception):
    pass


class UploadState(Protocol):
    async def insert(self, new: NewUpload) -> Upload:
        """Raises UploadExists when the id is taken."""
        ...

    async def get(self, upload_id: str) -> Upload | None: ...

    async def get_many(self, upload_ids: Sequence[str]) -> dict[str, Upload]:
        """The uploads that exist among `upload_ids`, by id (one query for a whole session's recordings)."""
        ...

    async def find(self, *, owner: str | None = None, subject: str | None = None) -> Upload | None:
        """The newest upload that is not gone, for an owner and/or subject (pre_create uses it)."""
        ...

    async def acquire(self, upload_id: str, token: str, *, now: datetime, lease_until: datetime) -> Upload | None:
        """Take the write lock if free or its lease ran out (compare-and-set); the upload as it is now, else None."""
        ...

    async def request_release(self, upload_id: str) -> None:
        """Ask the current holder (maybe on another replica) to let go at its next heartbeat."""
        ...

    async def renew(self, upload_id: str, token: str, *, lease_until: datetime) -> Lease: ...

    async def release(self, upload_id: str, token: str) -> None: ...

    async def commit(self, upload_id: str, token: str, *, expected_offset: int, changes: Changes, now: datetime) -> Upload | None:
        """Compare-and-set on (lock token, offset): None when the lock or the offset moved."""
        ...

    async def mark_gone(self, upload_id: str, token: str, *, reason: str, now: datetime) -> bool: ...

    async def release_all(self) -> int:
        """Drop every write lock (startup of the only process: any lock left is from its dead self)."""
        ...

    async def set_expires_at(self, upload_id: str, expires_at: datetime | None, *, now: datetime) -> None: ...

    async def expired(self, now: datetime, *, limit: int = 100) -> Sequence[Upload]:
        """Unfinished uploads, not gone, whose expiry has passed."""
        ...

    async def complete_unfinished(self, *, completed_before: datetime, limit: int = 100) -> Sequence[Upload]:
        """Uploads whose last byte was committed before `completed_before` but never finished (a crash between the
        last commit and finish, a store down at the finish)."""
        ...
