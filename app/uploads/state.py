"""Upload state persistence: the port the tus server uses, and its SQLAlchemy implementation.

Every method is one short transaction. Nothing holds a database connection while a request body streams in:
the write lock is a lease in the row (token + expiry), taken and released with compare-and-set updates, and a
write is committed with a compare-and-set on (lock token, offset). That works the same on SQLite and
PostgreSQL and across processes; see app.uploads.tus for the rule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.uploads.models import UploadRow

ZERO_CHAIN = "0" * 64
T = TypeVar("T")


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
        """Apply `changes` if `token` still holds the lock and the offset is still `expected_offset`; else None.
        With `changes.release_lock` the lock goes in the same statement."""
        ...

    async def mark_gone(self, upload_id: str, token: str, *, reason: str, now: datetime) -> bool: ...

    async def release_all(self) -> int:
        """Drop every write lock (startup of the only process: any lock left is from its dead self)."""
        ...

    async def set_expires_at(self, upload_id: str, expires_at: datetime | None, *, now: datetime) -> None: ...

    async def expired(self, now: datetime, *, limit: int = 100) -> Sequence[Upload]:
        """Unfinished uploads, not gone, whose expiry has passed."""
        ...

    async def complete_unfinished(self, *, limit: int = 100) -> Sequence[Upload]:
        """Uploads with all bytes in but never finished (a crash between the last commit and finish)."""
        ...


def _to_upload(row: Any) -> Upload:
    return Upload(
        id=row.id,
        owner=row.owner,
        subject=row.subject,
        offset=row.upload_offset,
        length=row.upload_length,
        max_size=row.max_size,
        metadata=dict(row.upload_metadata or {}),
        storage_key=row.storage_key,
        store_state=dict(row.store_state or {}),
        chain_sha256=row.chain_sha256,
        chunk_count=row.chunk_count,
        sha256=row.sha256,
        expires_at=row.expires_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        finished_at=row.finished_at,
        gone_at=row.gone_at,
        gone_reason=row.gone_reason,
        completed_at=row.completed_at,
    )


@dataclass
class SqlUploadState:
    """UploadState on SQLAlchemy (async): SQLite and PostgreSQL.

    Writes are shielded from cancellation: a transaction cut off mid-way can leave a SQLite connection holding
    the database's write lock until it is garbage-collected.
    """

    sessionmaker: async_sessionmaker[AsyncSession]
    _serial: asyncio.Lock | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        # SQLite takes one writer at a time and makes the others poll with sleeps of 1-100 ms; queueing this
        # process's writes here instead keeps PATCH latency flat under concurrent uploads.
        bind = self.sessionmaker.kw.get("bind")
        if bind is not None and bind.dialect.name == "sqlite":
            self._serial = asyncio.Lock()

    async def _transaction(self, work: Callable[[], Awaitable[T]]) -> T:
        """One write transaction: queued on SQLite, shielded from cancellation."""

        async def guarded() -> T:
            if self._serial is None:
                return await work()
            async with self._serial:
                return await work()

        return await asyncio.shield(guarded())

    async def _update(self, statement: Any) -> int:
        """Run one UPDATE in its own transaction; its row count."""

        async def run() -> int:
            async with self.sessionmaker.begin() as db:
                result: CursorResult[Any] = await db.execute(statement)  # type: ignore[assignment]
                return int(result.rowcount)

        return await self._transaction(run)

    async def insert(self, new: NewUpload) -> Upload:
        from sqlalchemy.exc import IntegrityError

        row = UploadRow(
            id=new.id,
            owner=new.owner,
            subject=new.subject,
            upload_offset=0,
            upload_length=new.length,
            max_size=new.max_size,
            upload_metadata=dict(new.metadata),
            storage_key=new.storage_key,
            store_state=dict(new.store_state),
            chain_sha256=ZERO_CHAIN,
            chunk_count=0,
            expires_at=new.expires_at,
            created_at=new.now,
            updated_at=new.now,
            lock_release_requested=False,
        )

        async def run() -> None:
            async with self.sessionmaker.begin() as db:
                db.add(row)

        try:
            await self._transaction(run)
        except IntegrityError as exc:
            raise UploadExists(new.id) from exc
        return _to_upload(row)

    async def get(self, upload_id: str) -> Upload | None:
        async with self.sessionmaker() as db:
            row = await db.get(UploadRow, upload_id)
            return _to_upload(row) if row is not None else None

    async def find(self, *, owner: str | None = None, subject: str | None = None) -> Upload | None:
        query = select(UploadRow).where(UploadRow.gone_at.is_(None))
        if owner is not None:
            query = query.where(UploadRow.owner == owner)
        if subject is not None:
            query = query.where(UploadRow.subject == subject)
        async with self.sessionmaker() as db:
            row = (await db.scalars(query.order_by(UploadRow.created_at.desc()).limit(1))).first()
            return _to_upload(row) if row is not None else None

    async def acquire(self, upload_id: str, token: str, *, now: datetime, lease_until: datetime) -> Upload | None:
        statement = (
            update(UploadRow)
            .where(
                UploadRow.id == upload_id,
                UploadRow.gone_at.is_(None),
                or_(UploadRow.lock_token.is_(None), UploadRow.lock_expires_at <= now),
            )
            .values(lock_token=token, lock_expires_at=lease_until, lock_release_requested=False)
            .returning(*UploadRow.__table__.columns)
        )

        async def run() -> Upload | None:
            async with self.sessionmaker.begin() as db:
                row = (await db.execute(statement)).first()
                return _to_upload(row) if row is not None else None  # a Row: same names as the attributes

        return await self._transaction(run)

    async def request_release(self, upload_id: str) -> None:
        statement = (
            update(UploadRow)
            .where(UploadRow.id == upload_id, UploadRow.lock_token.is_not(None))
            .values(lock_release_requested=True)
        )
        await self._update(statement)

    async def renew(self, upload_id: str, token: str, *, lease_until: datetime) -> Lease:
        statement = (
            update(UploadRow)
            .where(UploadRow.id == upload_id, UploadRow.lock_token == token)
            .values(lock_expires_at=lease_until)
            .returning(UploadRow.lock_release_requested)
        )

        async def run() -> bool | None:
            async with self.sessionmaker.begin() as db:
                return (await db.execute(statement)).scalar_one_or_none()

        requested = await self._transaction(run)
        if requested is None:
            return Lease(held=False)
        return Lease(held=True, release_requested=bool(requested))

    async def release(self, upload_id: str, token: str) -> None:
        statement = (
            update(UploadRow)
            .where(UploadRow.id == upload_id, UploadRow.lock_token == token)
            .values(lock_token=None, lock_expires_at=None, lock_release_requested=False)
        )
        await self._update(statement)

    async def commit(self, upload_id: str, token: str, *, expected_offset: int, changes: Changes, now: datetime) -> Upload | None:
        values: dict[str, Any] = {"updated_at": now}
        for name, column in (
            ("offset", "upload_offset"),
            ("length", "upload_length"),
            ("store_state", "store_state"),
            ("chain_sha256", "chain_sha256"),
            ("chunk_count", "chunk_count"),
            ("sha256", "sha256"),
            ("finished_at", "finished_at"),
            ("completed_at", "completed_at"),
        ):
            value = getattr(changes, name)
            if value is not None:
                values[column] = value
        if changes.release_lock:
            values.update(lock_token=None, lock_expires_at=None, lock_release_requested=False)
        statement = (
            update(UploadRow)
            .where(UploadRow.id == upload_id, UploadRow.lock_token == token, UploadRow.upload_offset == expected_offset)
            .values(**values)
        )

        async def run() -> Upload | None:
            async with self.sessionmaker.begin() as db:
                result: CursorResult[Any] = await db.execute(statement)  # type: ignore[assignment]
                if result.rowcount != 1:
                    return None
                row = await db.get(UploadRow, upload_id, populate_existing=True)
                assert row is not None
                return _to_upload(row)

        return await self._transaction(run)

    async def mark_gone(self, upload_id: str, token: str, *, reason: str, now: datetime) -> bool:
        statement = (
            update(UploadRow)
            .where(UploadRow.id == upload_id, UploadRow.lock_token == token)
            .values(gone_at=now, gone_reason=reason, updated_at=now, lock_token=None, lock_expires_at=None)
        )
        return await self._update(statement) == 1

    async def release_all(self) -> int:
        statement = (
            update(UploadRow)
            .where(UploadRow.lock_token.is_not(None))
            .values(lock_token=None, lock_expires_at=None, lock_release_requested=False)
        )
        return await self._update(statement)

    async def set_expires_at(self, upload_id: str, expires_at: datetime | None, *, now: datetime) -> None:
        statement = update(UploadRow).where(UploadRow.id == upload_id).values(expires_at=expires_at, updated_at=now)
        await self._update(statement)

    async def expired(self, now: datetime, *, limit: int = 100) -> Sequence[Upload]:
        query = (
            select(UploadRow)
            .where(
                UploadRow.gone_at.is_(None),
                UploadRow.finished_at.is_(None),
                UploadRow.expires_at.is_not(None),
                UploadRow.expires_at <= now,
                or_(UploadRow.upload_length.is_(None), UploadRow.upload_offset < UploadRow.upload_length),
            )
            .order_by(UploadRow.expires_at)
            .limit(limit)
        )
        async with self.sessionmaker() as db:
            return [_to_upload(row) for row in await db.scalars(query)]

    async def complete_unfinished(self, *, limit: int = 100) -> Sequence[Upload]:
        query = (
            select(UploadRow)
            .where(
                UploadRow.gone_at.is_(None),
                UploadRow.finished_at.is_(None),
                UploadRow.upload_length.is_not(None),
                UploadRow.upload_offset == UploadRow.upload_length,
            )
            .limit(limit)
        )
        async with self.sessionmaker() as db:
            return [_to_upload(row) for row in await db.scalars(query)]
