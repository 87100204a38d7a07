"""This process's own pysqlite connections to the application's SQLite file, for SqlUploadState's transactions:
not through aiosqlite, which hops to its thread and back for every driver call."""

from __future__ import annotations

import asyncio
import concurrent.futures
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import StaticPool

from app.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")


class SqliteDirect:
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
    _of: weakref.WeakKeyDictionary[Engine, SqliteDirect] = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, engine: AsyncEngine) -> SqliteDirect:
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
