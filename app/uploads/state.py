"""Upload state persistence: the port the tus server uses, and its SQLAlchemy implementation.

Every method is one short transaction. Nothing holds a database connection while a request body streams in:
the write lock is a lease in the row (token + expiry), taken and released with compare-and-set updates, and a
write is committed with a compare-and-set on (lock token, offset). That works the same on SQLite and
PostgreSQL and across processes; see app.uploads.tus for the rule.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, CursorResult, Engine, bindparam, create_engine, event, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import StaticPool
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.logs import get_logger
from app.uploads.models import UploadRow

log = get_logger(__name__)

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


_TABLE = UploadRow.__table__
_ROW = tuple(_TABLE.columns)
_UNLOCKED = {"lock_token": None, "lock_expires_at": None, "lock_release_requested": False}


class SqlUploadState:
    """UploadState on SQLAlchemy Core: SQLite and PostgreSQL.

    Each method is one function over a synchronous `Connection` (`_get`, `_acquire`, …), run in one transaction,
    with the statements of a PATCH built once (SQLAlchemy finds them compiled in its cache):

    - on a SQLite file, with this process's own pysqlite connections (`_Sqlite`): inline in the event loop when
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
        self._sqlite: _Sqlite | None = None
        if bind.dialect.name == "sqlite":
            database = bind.url.database
            if database and database != ":memory:" and "mode=memory" not in str(bind.url):
                self._sqlite = _Sqlite.of(bind)
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

    async def complete_unfinished(self, *, limit: int = 100) -> Sequence[Upload]:
        query = (
            select(*_ROW)
            .where(
                _TABLE.c.gone_at.is_(None),
                _TABLE.c.finished_at.is_(None),
                _TABLE.c.upload_length.is_not(None),
                _TABLE.c.upload_offset == _TABLE.c.upload_length,
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


class _Sqlite:
    """This process's own pysqlite connections to the application's SQLite file, one set per application engine
    (opened on first use, gone with the engine):

    - *inline*: when the file is in WAL mode with `synchronous` at most NORMAL, a transaction first runs right here
      in the event loop's thread, with no busy timeout: a commit then writes to the WAL without fsync and a
      read never waits for a writer, so it takes tens of microseconds — less than a hop to a thread and back.
      Should another connection hold the write lock (SQLITE_BUSY), it is not waited for here: the transaction
      goes to the thread instead. This connection never checkpoints on its own (that fsyncs): every
      CHECKPOINT_EVERY inline writes, the thread runs a passive checkpoint;
    - *thread*: one thread with a connection that waits for locks like the application's (its busy timeout),
      for everything else.
    """

    CHECKPOINT_EVERY = 256
    _of: weakref.WeakKeyDictionary[Engine, _Sqlite] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, engine: AsyncEngine) -> _Sqlite:
        found = cls._of.get(engine.sync_engine)
        if found is None:
            found = cls._of[engine.sync_engine] = cls(engine)
        return found

    def __init__(self, engine: AsyncEngine) -> None:
        self._application = weakref.ref(engine)  # not a strong reference: the engine is this object's key
        self._engine: Engine | None = None
        self._inline: Engine | None = None
        self._inline_writes = 0
        self._opening: asyncio.Lock | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="upload-db")

    async def run(self, work: Callable[..., T], *args: Any, write: bool) -> T:
        engine = self._engine or await self._open()
        if self._inline is not None:
            try:
                result = _in_transaction(self._inline, work, args)
            except OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            else:
                if write:
                    self._inline_writes += 1
                    if self._inline_writes % self.CHECKPOINT_EVERY == 0:
                        self._pool.submit(_checkpoint, engine)
                return result
        future = self._pool.submit(_in_transaction, engine, work, args)
        if write:
            return await asyncio.shield(asyncio.wrap_future(future))
        return await asyncio.wrap_future(future)

    async def _open(self) -> Engine:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._engine is None:
                application = self._application()
                assert application is not None  # a SqlUploadState in use holds it
                # The application's engine sets its connections' pragmas when it connects: read them from one.
                async with application.connect() as conn:
                    pragmas = {
                        name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                        for name in ("synchronous", "foreign_keys", "busy_timeout", "journal_mode")
                    }
                url = application.url.set(drivername="sqlite")
                setup = [f"PRAGMA synchronous={int(pragmas['synchronous'])}", f"PRAGMA foreign_keys={int(pragmas['foreign_keys'])}"]
                timeout = int(pragmas["busy_timeout"] or 5000) / 1000
                engine = _sqlite_engine(url, timeout, setup)
                inline = None
                if str(pragmas["journal_mode"]).lower() == "wal" and int(pragmas["synchronous"]) <= 1:
                    inline = _sqlite_engine(url, 0, [*setup, "PRAGMA wal_autocheckpoint=0"], poolclass=StaticPool)
                weakref.finalize(self, _close, self._pool, engine, inline)
                self._engine, self._inline = engine, inline
        assert self._engine is not None
        return self._engine


def _sqlite_engine(url: Any, timeout: float, setup: list[str], **options: Any) -> Engine:
    engine = create_engine(url, connect_args={"timeout": timeout, "check_same_thread": False}, **options)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        for statement in setup:
            cursor.execute(statement)
        cursor.close()

    return engine


def _checkpoint(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
    except Exception:  # the next one will do
        log.exception("upload.db.checkpoint_failed")


def _in_transaction(engine: Engine, work: Callable[..., T], args: tuple[Any, ...]) -> T:
    with engine.begin() as conn:
        return work(conn, *args)


def _close(pool: concurrent.futures.ThreadPoolExecutor, engine: Engine, inline: Engine | None) -> None:
    pool.shutdown(wait=False)
    engine.dispose()
    if inline is not None:
        inline.dispose()
