"""Health, readiness, the server clock and the Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app import errors, metrics
from app.api.deps import DB, Now, Ops, SettingsDep
from app.logs import get_logger
from app.services import live_counts

log = get_logger(__name__)
router = APIRouter()


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


class ServerTime(BaseModel):
    now: str
    epoch_ms: int


@router.get("/healthz", response_model=Health, tags=["system"])
async def healthz() -> Health:
    """Liveness: the process answers."""
    return Health(status="ok")


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}}, tags=["system"])
async def readyz(request: Request) -> Readiness | JSONResponse:
    """Readiness: the database and the object store can be used. `scheduler` says whether this process runs the
    scheduler (`leader`), waits to take over (`standby`) or never runs it (`disabled`); it never makes a process unready."""
    checks: dict[str, str] = {}
    try:
        async with request.app.state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; the reason goes to the log
        log.warning("readyz.database.failed", error=repr(exc))
        checks["database"] = "failed"
    try:
        await request.app.state.store.ping()
        checks["object_store"] = "ok"
    except Exception as exc:
        log.warning("readyz.object_store.failed", error=repr(exc))
        checks["object_store"] = "failed"
    ready = all(v == "ok" for v in checks.values())
    checks["scheduler"] = _scheduler_role(request)
    if ready:
        return Readiness(status="ok", checks=checks)
    return JSONResponse(Readiness(status="unavailable", checks=checks).model_dump(), status_code=503)


def _scheduler_role(request: Request) -> str:
    if not request.app.state.settings.scheduler_enabled:
        return "disabled"
    return "leader" if request.app.state.scheduler.is_leader else "standby"


@router.get("/api/v1/time", response_model=ServerTime, tags=["system"])
async def server_time(now: Now) -> ServerTime:
    """The server clock, the only truth about time (clients estimate their offset from it)."""
    return ServerTime(
        now=now.isoformat(timespec="milliseconds").replace("+00:00", "Z"), epoch_ms=int(now.timestamp() * 1000)
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition"}, **errors.responses(errors.RouteNotFound)},
    tags=["system"],
)
async def metrics_text(principal: Ops, db: DB, now: Now, settings: SettingsDep) -> Response:
    """This process's metrics (docs/operations.md), for an ops token. With `DUALCAM_METRICS_LISTEN` they are served on
    that address instead, and here is 404."""
    if settings.metrics_listen:
        raise errors.RouteNotFound()
    await live_counts.refresh(db, now=now)
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
