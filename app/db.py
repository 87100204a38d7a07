"""Database engine, session factory and the declarative base shared by all models."""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import DateTime, Insert, MetaData, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (naive storage) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime reached the database")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


def secure_sqlite_file(url: str) -> None:
    """A SQLite database (personal data, the keyed hashes) readable by the server's user only: created 0600 whatever
    the umask (an empty file is an empty database), an existing one tightened. SQLite gives its -wal and -shm files
    the database file's mode; existing ones are tightened too."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        for file in (path, path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
            with contextlib.suppress(FileNotFoundError, PermissionError):  # another owner's file: SQLite will say
                if stat.S_IMODE(file.stat().st_mode) & 0o077:
                    file.chmod(0o600)
    except FileNotFoundError:
        pass  # no such directory: SQLite's own error says so on the first connection


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20, pool_timeout: float = 30.0) -> AsyncEngine:
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
    if url.startswith("sqlite"):
        secure_sqlite_file(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **pool)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **pool)


def insert_or_skip(db: AsyncSession, model: type[Base]) -> Insert:
    """`INSERT … ON CONFLICT DO NOTHING` for the session's database: a row that would break a unique key is skipped
    (with RETURNING, no row comes back), not raised. For a concurrent insert that may win; unlike catching the
    IntegrityError it needs no savepoint (which on SQLite, opening the transaction, commits when released)."""
    construct = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    return construct(model).on_conflict_do_nothing()


def insert_or_update(db: AsyncSession, model: type[Base], *, keys: list[str], update: list[str]) -> Insert:
    """`INSERT … ON CONFLICT (keys) DO UPDATE SET update = excluded.update` for the session's database: a row
    re-derived from the same origin replaces its values and keeps its id (what verdicts point at)."""
    construct = postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = construct(model)
    return statement.on_conflict_do_update(index_elements=keys, set_={name: statement.excluded[name] for name in update})


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


ALEMBIC_INI = Path(__file__).resolve().parent.parent / "alembic.ini"


def head_revision() -> str | None:
    """The schema revision this code expects (the newest migration)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(Config(str(ALEMBIC_INI))).get_current_head()


async def schema_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is migrated to; None for a database never migrated."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


class Publisher(Protocol):
    async def publish(self, channel: str, message: dict[str, Any]) -> None: ...


def publish_after_commit(db: AsyncSession, channel: str, message: dict[str, Any]) -> None:
    """Queue a realtime message; it goes out only if (and after) the transaction commits."""
    db.info.setdefault("outbox", []).append((channel, message))


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession], hub: Publisher | None = None) -> AsyncIterator[AsyncSession]:
    """The one place that commits: a request or a job wrapper. Queued messages are published after the commit."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException as exc:
            if getattr(exc, "keeps_changes", False):
                await session.commit()
            else:
                await session.rollback()
            raise
        outbox = session.info.pop("outbox", [])
        if hub is not None:
            for channel, message in outbox:
                await hub.publish(channel, message)
