from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from app.clock import FakeClock
from app.config import Settings
from app.main import create_app
from tests.support import databases
from tests.support.api import Api, SchemaChecker
from tests.support.keys import TEST_SECRET_KEY

# 2026-06-01 08:00 in Beijing: the fake clock's start in every test.
T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
PG_MODE = bool(os.environ.get("DUALCAM_TEST_DATABASE_URL"))


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | Path]:
    if PG_MODE:
        url = databases.create_pg_database(os.environ["DUALCAM_TEST_DATABASE_URL"])
        yield url
        databases.drop_pg_database(url, os.environ["DUALCAM_TEST_DATABASE_URL"])
    else:
        yield databases.sqlite_template(tmp_path_factory.mktemp("db"))


@pytest.fixture
async def database_url(database_template: str | Path, tmp_path: Path) -> str:
    if isinstance(database_template, Path):
        return databases.sqlite_copy(database_template, tmp_path)
    await databases.truncate_all(database_template)
    return database_template


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path / "var",
        database_url=database_url,
        storage_url=None,
        redis_url=None,
        scheduler_enabled=False,  # tests drive the scheduler's tick with the fake clock
        flags_runner_enabled=False,  # and the analysis runner's passes
        log_json=False,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        secret_key=TEST_SECRET_KEY,
    )


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[object]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def schema_checker() -> SchemaChecker:
    return SchemaChecker(create_app(Settings(env="test")))


@asynccontextmanager
async def api_client(app: object, clock: FakeClock, checker: SchemaChecker, host: str = "127.0.0.1") -> AsyncIterator[Api]:
    """An Api on the app whose requests come from `host` (the peer address per-client limits count)."""

    async def check(response: httpx.Response) -> None:
        checker.check(response.request.method, response.request.url.path, response.status_code)

    transport = httpx.ASGITransport(app=app, client=(host, 123))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", event_hooks={"response": [check]}) as client:
        yield Api(client=client, app=app, clock=clock)  # type: ignore[arg-type]


@pytest.fixture
async def api(app: object, clock: FakeClock, schema_checker: SchemaChecker) -> AsyncIterator[Api]:
    async with api_client(app, clock, schema_checker) as client:
        yield client


@pytest.fixture
async def api_from(app: object, clock: FakeClock, schema_checker: SchemaChecker) -> AsyncIterator[Callable[[str], Awaitable[Api]]]:
    """`await api_from("203.0.113.7")`: another client of the same app, at that address (`api` is 127.0.0.1)."""
    async with AsyncExitStack() as stack:

        async def make(host: str) -> Api:
            return await stack.enter_async_context(api_client(app, clock, schema_checker, host))

        yield make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in this thread for as long as its
    session-scoped browser lives, and anyio cannot start its own loop for async tests after that. Browser tests
    outside tests/e2e/ carry the e2e marker."""
    items.sort(key=lambda item: item.nodeid.startswith("tests/e2e/") or item.get_closest_marker("e2e") is not None)
