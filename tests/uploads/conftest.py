"""Fixtures for the tus server: a tiny app mounting TusApp with permissive callbacks, its own upload table
(SQLite in tmp_path; a fresh PostgreSQL database when the suite runs on PostgreSQL), local or S3 stores."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.adapters.factory import open_upload_store
from app.adapters.local import LocalUploadStore
from app.adapters.upload_store import UploadStore
from app.clock import FakeClock
from app.db import make_engine, make_sessionmaker
from app.uploads import SqlUploadState, TusApp
from app.uploads.models import UploadRow
from tests.support import databases
from tests.support.seaweed import Seaweed, SeaweedUnavailable, running_seaweed
from tests.uploads.flows import TEST_CONFIG, Rules, client_for, create_bucket, make_app

PG_MODE = bool(os.environ.get("DUALCAM_TEST_DATABASE_URL"))


# --- database ------------------------------------------------------------------------------------------


async def _create_schema(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(UploadRow.metadata.create_all, tables=[UploadRow.__table__])
    finally:
        await engine.dispose()


@contextmanager
def fresh_pg_uploads_database() -> Iterator[str]:
    """A fresh PostgreSQL database holding only the upload table, dropped at the end. PostgreSQL unreachable:
    skip locally, fail in CI (or when the suite runs on PostgreSQL)."""
    if not databases.pg_available():
        reason = f"PostgreSQL is unreachable at {databases.PG_ADMIN_URL}"
        if os.environ.get("CI") or PG_MODE:
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"dualcam_uploads_{uuid.uuid4().hex[:12]}"
    asyncio.run(databases._admin(databases.PG_ADMIN_URL, f'CREATE DATABASE "{name}"'))
    url = f"{databases.PG_ADMIN_URL.rpartition('/')[0]}/{name}"
    try:
        asyncio.run(_create_schema(url))
        yield url
    finally:
        databases.drop_pg_database(url)


@pytest.fixture(scope="session")
def pg_uploads_url() -> Iterator[str]:
    """One database for the session (in-process tests truncate the table)."""
    with fresh_pg_uploads_database() as url:
        yield url


@pytest.fixture
def own_pg_uploads_url() -> Iterator[str]:
    """A database of this test's own: server processes share it, and killed ones leave rows and locks behind."""
    with fresh_pg_uploads_database() as url:
        yield url


async def open_db(url: str) -> tuple[Any, async_sessionmaker[AsyncSession]]:
    engine = make_engine(url)
    if url.startswith("postgresql"):
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE tus_uploads"))
    return engine, make_sessionmaker(engine)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("uploads-db") / "template.sqlite3"
    asyncio.run(_create_schema(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def db_url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if PG_MODE:
        return str(request.getfixturevalue("pg_uploads_url"))
    target = tmp_path / "uploads.sqlite3"
    shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def sessionmaker(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine, factory = await open_db(db_url)
    yield factory
    await engine.dispose()


# --- S3 --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seaweed]:
    """SeaweedFS for the session. In CI a failure to start fails the tests; locally it skips them."""
    try:
        with running_seaweed(tmp_path_factory.mktemp("seaweed")) as server:
            yield server
            return
    except SeaweedUnavailable as exc:
        reason = f"SeaweedFS could not start: {exc}"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
async def bucket(seaweed: Seaweed) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    await create_bucket(seaweed, name)
    return name


# --- the app ---------------------------------------------------------------------------------------------


@pytest.fixture
def rules() -> Rules:
    return Rules()


@pytest.fixture
def store_kind() -> str:
    """Local files; test_core_on_stores.py overrides this to run the same flows on S3 too."""
    return "local"


@pytest.fixture
async def store(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[UploadStore]:
    if store_kind == "local":
        yield LocalUploadStore(tmp_path / "objects")
        return
    server: Seaweed = request.getfixturevalue("seaweed")
    name = f"t-{uuid.uuid4().hex[:16]}"
    await create_bucket(server, name)
    s3 = open_upload_store(server.url(name))
    yield s3
    await s3.close()


@pytest.fixture
async def tus(rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession], store: UploadStore) -> AsyncIterator[TusApp]:
    app = TusApp(hooks=rules.hooks(), config=TEST_CONFIG, clock=clock, state=SqlUploadState(sessionmaker), store=store)
    yield app
    await app.settled()  # a finish after its answer (S3) is done before the store closes


@pytest.fixture
async def client(tus: TusApp) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app(tus)) as http:
        yield http
