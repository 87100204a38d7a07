"""Test databases built with `alembic upgrade head`: SQLite by default, PostgreSQL when
DUALCAM_TEST_DATABASE_URL is set (CI runs the suite once more that way)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("DUALCAM_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def migrate(url: str) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


def sqlite_template(directory: Path) -> Path:
    path = directory / "template.sqlite3"
    migrate(f"sqlite+aiosqlite:///{path}")
    return path


def sqlite_copy(template: Path, directory: Path) -> str:
    target = directory / "dualcam.sqlite3"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def create_pg_database(admin_url: str = PG_ADMIN_URL) -> str:
    """A fresh, migrated database (unique name: concurrent test runs must not share one)."""
    name = f"dualcam_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    url = _with_database(admin_url, name)
    migrate(url)
    return url


def drop_pg_database(url: str, admin_url: str = PG_ADMIN_URL) -> None:
    name = url.rpartition("/")[2]
    asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def truncate_all(url: str) -> None:
    from app.db import Base

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    finally:
        await engine.dispose()


def pg_available(admin_url: str = PG_ADMIN_URL) -> bool:
    try:
        asyncio.run(_admin(admin_url, "SELECT 1"))
        return True
    except Exception:
        return False
