"""The upload server as a real process: `uvicorn --factory tests.uploads.serve:create`.

Environment: UPLOADS_TEST_DB (SQLAlchemy URL), UPLOADS_TEST_STORE (file:// or s3:// URL); optional
UPLOADS_TEST_LEASE_S (the lock lease, TusConfig's default otherwise: short when a test kills replicas on
PostgreSQL and waits for their leases to run out) and UPLOADS_TEST_RELEASE_STALE_LOCKS (1/0; default 1 on SQLite,
where this is the only process, 0 otherwise: replicas must not drop each other's locks). System clock,
permissive callbacks (owner from the bearer token), the upload table created if missing. Plain Starlette and
few imports: on a busy 2-core machine every second of start-up counts.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Mount

from app.adapters.factory import open_upload_store
from app.clock import SystemClock
from app.db import make_engine, make_sessionmaker
from app.uploads import CreateDecision, Caller, SqlUploadState, TusApp, TusConfig, TusHooks
from app.uploads.models import UploadRow

MOUNT = "/api/v1/uploads"


async def authorize(request: Request) -> Caller:
    return Caller(owner=request.headers.get("authorization", "Bearer phone-1").removeprefix("Bearer "))


async def pre_create(principal: Caller, metadata: Mapping[str, str], length: int | None) -> CreateDecision:
    return CreateDecision()


def create() -> Starlette:
    db_url = os.environ["UPLOADS_TEST_DB"]
    store_url = os.environ["UPLOADS_TEST_STORE"]
    lease_s = float(os.environ.get("UPLOADS_TEST_LEASE_S", TusConfig.lease_s))
    release_stale = os.environ.get("UPLOADS_TEST_RELEASE_STALE_LOCKS", "1" if db_url.startswith("sqlite") else "0") == "1"
    config = TusConfig(lock_wait_s=5.0, lease_s=lease_s, heartbeat_s=min(0.5, lease_s / 4), body_idle_timeout_s=10.0)
    tus = TusApp(hooks=TusHooks(authorize=authorize, pre_create=pre_create), config=config, clock=SystemClock())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(db_url)
        async with engine.begin() as conn:
            await conn.run_sync(UploadRow.metadata.create_all, tables=[UploadRow.__table__])
        store = open_upload_store(store_url)
        tus.attach(state=SqlUploadState(make_sessionmaker(engine)), store=store)
        if release_stale:
            await tus.release_stale_locks()  # the only process: locks left are from a killed predecessor
        try:
            yield
        finally:
            await store.close()
            await engine.dispose()

    return Starlette(routes=[Mount(MOUNT, app=tus)], lifespan=lifespan)
