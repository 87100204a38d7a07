"""SqlUploadState: the UploadState port on SQLAlchemy Core, for SQLite and PostgreSQL.

A little over 300 lines: every statement of the port is written out here, next to the transaction it runs in.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import Connection, CursorResult, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.uploads.models import UploadRow
from app.uploads.sqlite_direct import SqliteDirect
from app.uploads.state import Changes, Lease, NewUpload, Upload, UploadExists

ZERO_CHAIN = "0" * 64
T = TypeVar("T")


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


_TABLE = UploadRow.__table__
_ROW = tuple(_TABLE.columns)
_UNLOCKED = {"lock_token": None, "lock_expires_at": None, "lock_release_requested": False}


class SqlUploadState:
    """UploadState on SQLAlchemy Core: SQLite and PostgreSQL.

    Each method is one function over a synchronous `Connection` (`_get`, `_acquire`, …), run in one transaction,
    with the statements of a PATCH built once (SQLAlchemy finds them compiled in its cache):

    - on a SQLite file, with this process's own pysqlite connections (`SqliteDirect`): inline in the event loop when
      that cannot wait (WAL, no fsync at commit, no lock to wait for), else in a database thread of its own — not
      through aiosqlite, which hops to its thread and back for every driver call. This process's writes queue
      there instead of in SQLite's busy handler, which sleeps 1–100 ms per retry;
    - otherwise (PostgreSQL, an in-memory SQLite) through the application's async engine (`run_sync`), SQLite's
      writes queued on an asyncio.Lock.

    Writes are shielded from cancellation: a transaction cut off mid-way can leave a SQLite connection holding
    the database's write lock until it is garbage-collected (and a commit the caller no longer waits for still
    happens, as it would have on the database's side anyway).
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        bind = sessionmaker.kw.get("bind")
        if not isinstance(bind, AsyncEngine):
            raise TypeError("SqlUploadState needs a sessionmaker bound to an AsyncEngine")
        self._engine = bind
        self._serial: asyncio.Lock | None = None
        self._sqlite: SqliteDirect | None = None
        if bind.dialect.name == "sqlite":
            database = bind.url.database
            if database and database != ":memory:" and "mode=memory" not in str(bind.url):
                self._sqlite = SqliteDirect.of(bind)
            else:
                self._serial = asyncio.Lock()

    async def _run(self, work: Callable[..., T], *args: Any, write: bool = True) -> T:
        """`work(connection, *args)` in one transaction (committed when it returns)."""
        if self._sqlite is not None:
            return await self._sqlite.run(work, *args, write=write)

        async def transaction() -> T:
            async with self._engine.begin() as conn:
                return await conn.run_sync(work, *args)

        if not write:
            return await transaction()

        async def guarded() -> T:
            if self._serial is None:
                return await transaction()
            async with self._serial:
                return await transaction()

        return await asyncio.shield(guarded())

    async def insert(self, new: NewUpload) -> Upload:
        values = {
            "id": new.id,
            "owner": new.owner,
            "subject": new.subject,
            "upload_offset": 0,
            "upload_length": new.length,
            "max_size": new.max_size,
            "upload_metadata": dict(new.metadata),
            "storage_key": new.storage_key,
            "store_state": dict(new.store_state),
            "chain_sha256": ZERO_CHAIN,
            "chunk_count": 0,
            "sha256": None,
            "expires_at": new.expires_at,
            "created_at": new.now,
            "updated_at": new.now,
            "completed_at": None,
            "finished_at": None,
            "gone_at": None,
            "gone_reason": None,
            "lock_token": None,
            "lock_expires_at": None,
            "lock_release_requested": False,
        }
        try:
            return await self._run(_insert, values)
        except IntegrityError as exc:
            raise UploadExists(new.id) from exc

    async def get(self, upload_id: str) -> Upload | None:
        return await self._run(_get, upload_id, write=False)

    async def get_many(self, upload_ids: Sequence[str]) -> dict[str, Upload]:
        if not upload_ids:
            return {}
        return await self._run(_get_many, list(upload_ids), write=False)

    async def find(self, *, owner: str | None = None, subject: str | None = None) -> Upload | None:
        return await self._run(_find, owner, subject, write=False)

    async def acquire(self, upload_id: str, token: str, *, now: datetime, lease_until: datetime) -> Upload | None:
        return await self._run(_acquire, upload_id, token, now, lease_until)

    async def request_release(self, upload_id: str) -> None:
        statement = (
            update(_TABLE).where(_TABLE.c.id == upload_id, _TABLE.c.lock_token.is_not(None)).values(lock_release_requested=True)
        )
        await self._run(_rowcount, statement)

    async def renew(self, upload_id: str, token: str, *, lease_until: datetime) -> Lease:
        requested = await self._run(_renew, upload_id, token, lease_until)
        if requested is None:
            return Lease(held=False)
        return Lease(held=True, release_requested=bool(requested))

    async def release(self, upload_id: str, token: str) -> None:
        await self._run(_rowcount, _RELEASE, {"b_id": upload_id, "b_token": token})

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
        statement = _commit_statement(tuple(values), changes.release_lock)
        parameters = {f"v_{column}": value for column, value in values.items()}
        parameters.update(b_id=upload_id, b_token=token, b_offset=expected_offset)
        return await self._run(_one_upload, statement, parameters)

    async def mark_gone(self, upload_id: str, token: str, *, reason: str, now: datetime) -> bool:
        statement = (
            update(_TABLE)
            .where(_TABLE.c.id == upload_id, _TABLE.c.lock_token == token)
            .values(gone_at=now, gone_reason=reason, updated_at=now, lock_token=None, lock_expires_at=None)
        )
        return await self._run(_rowcount, statement) == 1

    async def release_all(self) -> int:
        statement = update(_TABLE).where(_TABLE.c.lock_token.is_not(None)).values(**_UNLOCKED)
        return await self._run(_rowcount, statement)

    async def set_expires_at(self, upload_id: str, expires_at: datetime | None, *, now: datetime) -> None:
        statement = update(_TABLE).where(_TABLE.c.id == upload_id).values(expires_at=expires_at, updated_at=now)
        await self._run(_rowcount, statement)

    async def expired(self, now: datetime, *, limit: int = 100) -> Sequence[Upload]:
        query = (
            select(*_ROW)
            .where(
                _TABLE.c.gone_at.is_(None),
                _TABLE.c.finished_at.is_(None),
                _TABLE.c.expires_at.is_not(None),
                _TABLE.c.expires_at <= now,
                or_(_TABLE.c.upload_length.is_(None), _TABLE.c.upload_offset < _TABLE.c.upload_length),
            )
            .order_by(_TABLE.c.expires_at)
            .limit(limit)
        )
        return await self._run(_uploads, query, write=False)

    async def complete_unfinished(self, *, completed_before: datetime, limit: int = 100) -> Sequence[Upload]:
        query = (
            select(*_ROW)
            .where(
                _TABLE.c.gone_at.is_(None),
                _TABLE.c.finished_at.is_(None),
                _TABLE.c.upload_length.is_not(None),
                _TABLE.c.upload_offset == _TABLE.c.upload_length,
                _TABLE.c.completed_at <= completed_before,
            )
            .limit(limit)
        )
        return await self._run(_uploads, query, write=False)


# --- the transactions (synchronous: run in the SQLite thread, or in run_sync's greenlet) -------------------------


def _insert(conn: Connection, values: dict[str, Any]) -> Upload:
    conn.execute(insert(_TABLE).values(**values))
    return _to_upload(SimpleNamespace(**values))


def _get(conn: Connection, upload_id: str) -> Upload | None:
    row = conn.execute(_GET, {"b_id": upload_id}).first()
    return _to_upload(row) if row is not None else None


def _get_many(conn: Connection, upload_ids: list[str]) -> dict[str, Upload]:
    found: dict[str, Upload] = {}
    for start in range(0, len(upload_ids), 500):  # bounded IN lists (SQLite's variable limit)
        for upload in _uploads(conn, select(*_ROW).where(_TABLE.c.id.in_(upload_ids[start : start + 500]))):
            found[upload.id] = upload
    return found


def _find(conn: Connection, owner: str | None, subject: str | None) -> Upload | None:
    query = select(*_ROW).where(_TABLE.c.gone_at.is_(None))
    if owner is not None:
        query = query.where(_TABLE.c.owner == owner)
    if subject is not None:
        query = query.where(_TABLE.c.subject == subject)
    row = conn.execute(query.order_by(_TABLE.c.created_at.desc()).limit(1)).first()
    return _to_upload(row) if row is not None else None


def _acquire(conn: Connection, upload_id: str, token: str, now: datetime, lease_until: datetime) -> Upload | None:
    return _one_upload(conn, _ACQUIRE, {"b_id": upload_id, "b_now": now, "v_token": token, "v_until": lease_until})


def _renew(conn: Connection, upload_id: str, token: str, lease_until: datetime) -> bool | None:
    value = conn.execute(_RENEW, {"b_id": upload_id, "b_token": token, "v_until": lease_until}).scalar_one_or_none()
    return None if value is None else bool(value)


def _one_upload(conn: Connection, statement: Any, parameters: dict[str, Any] | None = None) -> Upload | None:
    row = conn.execute(statement, parameters).first()
    return _to_upload(row) if row is not None else None


def _uploads(conn: Connection, query: Any) -> list[Upload]:
    return [_to_upload(row) for row in conn.execute(query)]


def _rowcount(conn: Connection, statement: Any, parameters: dict[str, Any] | None = None) -> int:
    result: CursorResult[Any] = conn.execute(statement, parameters)  # type: ignore[assignment]
    return int(result.rowcount)


# The statements of every PATCH, built once with bound parameters: SQLAlchemy then finds them compiled in its cache
# without building and hashing a new statement each time (about a third of the Python time per transaction).


def _param(name: str, column: str) -> Any:
    return bindparam(name, type_=_TABLE.c[column].type)


_GET = select(*_ROW).where(_TABLE.c.id == bindparam("b_id"))
_ACQUIRE = (
    update(_TABLE)
    .where(
        _TABLE.c.id == bindparam("b_id"),
        _TABLE.c.gone_at.is_(None),
        or_(_TABLE.c.lock_token.is_(None), _TABLE.c.lock_expires_at <= _param("b_now", "lock_expires_at")),
    )
    .values(lock_token=_param("v_token", "lock_token"), lock_expires_at=_param("v_until", "lock_expires_at"), lock_release_requested=False)
    .returning(*_ROW)
)
_RENEW = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.lock_token == bindparam("b_token"))
    .values(lock_expires_at=_param("v_until", "lock_expires_at"))
    .returning(_TABLE.c.lock_release_requested)
)
_RELEASE = update(_TABLE).where(_TABLE.c.id == bindparam("b_id"), _TABLE.c.lock_token == bindparam("b_token")).values(**_UNLOCKED)


@functools.cache
def _commit_statement(columns: tuple[str, ...], release_lock: bool) -> Any:
    """Compare-and-set on (token, offset) setting `columns` (parameters `v_<column>`), returning the row."""
    values: dict[str, Any] = {column: _param(f"v_{column}", column) for column in columns}
    if release_lock:
        values.update(_UNLOCKED)
    return (
        update(_TABLE)
        .where(
            _TABLE.c.id == bindparam("b_id"),
            _TABLE.c.lock_token == bindparam("b_token"),
            _TABLE.c.upload_offset == bindparam("b_offset"),
        )
        .values(**values)
        .returning(*_ROW)
    )
