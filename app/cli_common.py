"""What every `dualcam` command shares: settings from the environment, one transaction per command on a migrated
database, output as text or JSON, and errors as one JSON line on stderr with exit 2 (never a traceback)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app import errors
from app.adapters.factory import open_object_store
from app.adapters.storage import ObjectStore
from app.cli_output import show
from app.clock import SystemClock
from app.config import Settings
from app.db import head_revision, make_engine, make_sessionmaker, schema_revision, transaction
from app.secret_key import SecretKeyError
from app.security import configure_password_hashing
from app.services.audit import Actor

CLI_ACTOR = Actor("ops", "cli")
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def load_settings(*, keyed: bool = False) -> Settings:
    """The settings from the environment; `keyed` also checks (production) or fills (elsewhere) the secret key.
    A bad setting exits 2 with one JSON line on stderr, never a traceback."""
    try:
        settings = Settings()
        if keyed:
            settings.ensure_secret_key()
    except ValidationError as exc:
        problems = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        echo_error({"error": {"code": "config_invalid", "message": "配置无效（DUALCAM_ 环境变量）", "message_en": "Invalid configuration (DUALCAM_ environment variables)", "details": problems}})
    except SecretKeyError as exc:
        echo_error(exc.body())
    return settings


def run_work(work: Callable[[AsyncSession, ObjectStore, Settings, datetime], Awaitable[T]]) -> T:
    """Run one unit of work in a transaction; a DualcamError exits 2 with the error as JSON on stderr."""
    settings = load_settings(keyed=True)
    # As create_app does: the argon2 cost comes from the settings (DUALCAM_ARGON2_*), not the library's defaults.
    configure_password_hashing(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)

    async def main() -> T:
        engine = await migrated_engine(settings.resolved_database_url)
        try:
            async with transaction(make_sessionmaker(engine)) as db:
                return await work(db, open_object_store(settings.resolved_storage_url), settings, SystemClock().now())
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except errors.DualcamError as exc:
        fail(exc)


async def migrated_engine(url: str) -> AsyncEngine:
    """An engine on a database migrated to this code's schema; a missing, unreachable or older one is refused in one
    line (not a traceback). A SQLite file that does not exist is not created by looking."""
    parsed = make_url(url)
    where = {"database": parsed.render_as_string(hide_password=True)}
    if parsed.get_backend_name() == "sqlite" and not Path(parsed.database or "").exists():
        raise errors.DatabaseNotMigrated(details={**where, "revision": None, "expected": head_revision(), "fix": "dualcam migrate"})
    engine = make_engine(url)
    try:
        current = await schema_revision(engine)
    except (OSError, DBAPIError) as exc:
        await engine.dispose()
        raise errors.DatabaseUnreachable(details={**where, "reason": str(getattr(exc, "orig", exc))[:200]}) from None
    if current != head_revision():
        await engine.dispose()
        raise errors.DatabaseNotMigrated(details={**where, "revision": current, "expected": head_revision(), "fix": "dualcam migrate"})
    return engine


def json_default(value: Any) -> str:
    # ISO 8601 with a "T", as the API writes times (str() would put a space there).
    return value.isoformat() if isinstance(value, datetime) else str(value)


def emit(value: Any, as_json: bool) -> None:
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if as_json:
        typer.echo(json.dumps(value, ensure_ascii=False, default=json_default, indent=2))
    else:
        show(value)


def fail(error: errors.DualcamError) -> NoReturn:
    echo_error(error.body())


def echo_error(body: dict[str, Any]) -> NoReturn:
    typer.echo(json.dumps(body, ensure_ascii=False, default=str), err=True)
    raise typer.Exit(2)


def parse_input(model: type[M], **fields: Any) -> M:
    """Build an input schema; invalid options exit 2 with the same `validation_error` body the API answers."""
    try:
        return model(**fields)
    except ValidationError as exc:
        problems = [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        fail(errors.ValidationFailed(details=problems))


def parse_when(value: str) -> datetime:
    """ISO 8601; without an offset it is read in the exam's timezone."""
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}") from exc


def uuid_arg(name: str, value: str) -> uuid.UUID:
    """A UUID argument; anything else exits 2 with the API's `validation_error` body (one line, not typer's usage)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        fail(errors.ValidationFailed(details=[{"type": "uuid_parsing", "loc": [name], "msg": "Input should be a valid UUID"}]))
