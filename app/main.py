"""create_app(settings): wires the adapters in the lifespan, mounts routers and the phone apps."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.adapters.factory import open_hub, open_object_store, open_upload_store
from app.api import (
    auth, candidate, device, devices, exams, face, flags, grading, grading_ops, recordings, results, reviews, roster, sessions, staff,
    staff_live, system, uploads, ws,
)  # fmt: skip
from app.api.access_log import AccessLog
from app.api.body_limits import BodyLimits
from app.api.deps import BodyClass
from app.api.errors import declare_common_responses, install_error_handlers
from app.api.request_ids import RequestIds
from app.api.security_headers import SecurityHeaders
from app.clock import Clock, FileClock, SystemClock
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.logs import get_logger
from app.security import configure_password_hashing
from app.scheduler import Job, Leadership, PostgresLeader, Scheduler, SoleLeader
from app.services import live_counts
from app.services.face import engine as face_engine
from app.services.flags import events as flag_events
from app.services.flags.queue import queue_for
from app.services.flags.runner import Runner
from app.services.quotas import ClientQuotas
from app.services.recordings import verification
from app.services.recordings.playback import PlaybackCopies
from app.uploads import SqlUploadState

log = get_logger(__name__)

CLIENTS_DIR = Path(__file__).resolve().parent.parent / "clients"


def _default_clock(settings: Settings) -> Clock:
    return FileClock(settings.clock_file) if settings.clock_file else SystemClock()


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    clock = clock or _default_clock(settings)
    configure_password_hashing(time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The data dir holds the database, the ID photos and the recordings: the server's user only, when new.
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # In place: app.state.settings is this object. `dualcam serve` checked it already (one line if bad).
        if (key_file := settings.ensure_secret_key()) is not None:
            log.warning(
                "config.secret_key.generated",
                path=str(key_file.path),
                created=key_file.created,
                hint="set DUALCAM_SECRET_KEY (the same in every process on this database) before production",
            )
        engine = make_engine(
            settings.resolved_database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_overflow, pool_timeout=settings.db_pool_timeout_seconds
        )
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.store = open_object_store(settings.resolved_storage_url)
        upload_store = open_upload_store(settings.resolved_storage_url)
        app.state.tus.attach(state=SqlUploadState(app.state.sessionmaker), store=upload_store)
        if settings.is_sqlite:
            # The only process writing uploads: a lock left in the database is from its previous life (kill -9).
            await app.state.tus.release_stale_locks()
        app.state.hub = open_hub(settings.redis_url)
        app.state.verifier = verifier = verification.Verifier(
            sessionmaker=app.state.sessionmaker, hub=app.state.hub, clock=clock, reader=app.state.tus, scratch_dir=settings.data_dir / "tmp" / "probe"
        )
        # Once per process; None (logged as face.engine.unavailable) makes face endpoints answer 503.
        app.state.face = await face_engine.open_engine(settings)
        app.state.face_throttle = face_engine.Throttle()
        app.state.client_quotas = ClientQuotas.of(settings)
        faces = face_engine.Faces(app.state.face, app.state.store, face_engine.FacePolicy.of(settings), app.state.face_throttle) if app.state.face else None
        app.state.flags = runner = Runner(
            sessionmaker=app.state.sessionmaker, hub=app.state.hub, clock=clock, queue=queue_for(is_sqlite=settings.is_sqlite),
            reader=app.state.tus, faces=faces, settings=settings, scratch_dir=settings.data_dir / "tmp" / "analysis",
        )  # fmt: skip
        verifier.on_verified.append(runner.on_verified)
        app.state.playback = playback = PlaybackCopies(
            sessionmaker=app.state.sessionmaker, reader=app.state.tus, store=upload_store, scratch_dir=settings.data_dir / "tmp" / "playback",
            clock=clock,
        )
        verifier.on_verified.append(playback.on_verified)
        leadership: Leadership = SoleLeader() if settings.is_sqlite else PostgresLeader(engine)
        app.state.scheduler = Scheduler(
            sessionmaker=app.state.sessionmaker,
            hub=app.state.hub,
            clock=clock,
            leadership=leadership,
            tick_seconds=settings.scheduler_tick_seconds,
            presence_timeout=timedelta(seconds=settings.presence_timeout_seconds),
            live_still_seconds=settings.live_still_seconds,
            jobs=[
                Job("uploads.maintain", functools.partial(verification.maintain, app.state.tus, verifier)),
                Job("recordings.playback", playback.backfill),
                Job("flags.deadlines", functools.partial(flag_events.after_deadlines, app.state.sessionmaker, clock=clock, short_by=runner.policy.short_by)),
            ],
        )
        if settings.scheduler_enabled:
            app.state.scheduler.start()
        if settings.flags_runner_enabled:
            runner.start()
        exporter = None
        if settings.metrics_listen:
            exporter = live_counts.Exporter(settings.metrics_listen, sessionmaker=app.state.sessionmaker, clock=clock, every=settings.metrics_refresh_seconds)
            exporter.start()
        log.info("app.started", database=engine.url.render_as_string(hide_password=True), storage=settings.resolved_storage_url.split("?")[0])
        try:
            yield
        finally:
            if exporter is not None:
                await exporter.stop()
            await app.state.scheduler.stop()
            await app.state.tus.stop()
            await verifier.stop()
            await runner.stop()
            await playback.stop()
            await app.state.hub.close()
            face_engine.close_engine(app.state.face)
            await upload_store.close()
            await engine.dispose()

    app = FastAPI(
        title="dualcam",
        version="0.1.0",
        summary="Proctored online interviews and exams on two phones (main + aux camera)",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = clock
    routers = [m.router for m in (system, auth, exams, sessions, roster, staff, candidate, device, devices, face, flags, recordings, reviews, grading, grading_ops, results, staff_live, ws)]
    install_error_handlers(app, routers)
    for router in routers:
        declare_common_responses(router)
        app.include_router(router)
    limits = {
        BodyClass.json: settings.max_json_body_bytes,
        BodyClass.image: settings.max_image_body_bytes,
        BodyClass.roster: settings.max_roster_body_bytes,
    }
    app.add_middleware(BodyLimits, routes=[r for router in routers for r in router.routes], limits=limits, upload_prefix=uploads.MOUNT)
    app.add_middleware(AccessLog, upload_prefix=uploads.MOUNT)  # outside the limits: refusals are logged too
    # Outside the access log (its line carries the id); the trusted proxy's client address is read here, not by uvicorn.
    app.add_middleware(RequestIds, trusted_hosts=settings.forwarded_allow_ips)
    docs = (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    app.add_middleware(SecurityHeaders, docs_paths=tuple(p for p in docs if p))  # outermost: refusals carry them too
    app.state.tus = uploads.build_tus(app)
    app.mount(uploads.MOUNT, app.state.tus)
    _add_bearer_scheme(app)
    for name in ("main", "aux"):
        app.mount(f"/{name}", StaticFiles(directory=CLIENTS_DIR / f"{name}_cam", html=True), name=f"{name}_cam")
    app.mount("/console", StaticFiles(directory=CLIENTS_DIR / "console", html=True), name="console")
    app.mount("/common", StaticFiles(directory=CLIENTS_DIR / "common"), name="common")
    return app


def _add_bearer_scheme(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict:  # type: ignore[type-arg]
        if app.openapi_schema is None:
            schema = original()
            schema.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
