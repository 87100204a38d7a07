"""Health, readiness and the server clock."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from app.api.deps import Now
from app.logs import get_logger

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
    """Readiness: the database and the object store can be used."""
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
    if all(v == "ok" for v in checks.values()):
        return Readiness(status="ok", checks=checks)
    return JSONResponse(Readiness(status="unavailable", checks=checks).model_dump(), status_code=503)


@router.get("/api/v1/time", response_model=ServerTime, tags=["system"])
async def server_time(now: Now) -> ServerTime:
    """The server clock, the only truth about time (clients estimate their offset from it)."""
    return ServerTime(
        now=now.isoformat(timespec="milliseconds").replace("+00:00", "Z"), epoch_ms=int(now.timestamp() * 1000)
    )
