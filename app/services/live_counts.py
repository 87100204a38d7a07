"""What /metrics reads from the database at each scrape: analysis jobs by status (shared by every process) and the
sittings of each session now open by state (judged at `now`, like the dashboard). Set on app.metrics' gauges, so
every replica reports the same numbers for these; alerts should take one replica's (or the max)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import metrics
from app.clock import Clock
from app.db import transaction
from app.logs import get_logger
from app.models import AnalysisJob, AnalysisStatus, ExamSession, SessionKind
from app.services.sitting.sittings import session_status

log = get_logger(__name__)


async def open_sessions(db: AsyncSession, *, now: datetime) -> list[ExamSession]:
    """Mocks and formal sessions between their waiting window's opening and their upload deadline. Practice runs
    on demand, without windows of its own."""
    found = await db.scalars(
        select(ExamSession).where(
            ExamSession.kind != SessionKind.practice, ExamSession.waiting_opens_at <= now, ExamSession.upload_deadline >= now
        )
    )
    return list(found)


async def refresh(db: AsyncSession, *, now: datetime) -> None:
    counts = {status: n for status, n in await db.execute(select(AnalysisJob.status, func.count()).group_by(AnalysisJob.status))}
    for status in AnalysisStatus:
        metrics.analysis_jobs.labels(status.value).set(counts.get(status, 0))
    found = {session.id: await session_status(db, session=session, now=now) for session in await open_sessions(db, now=now)}
    # Cleared and set with no await between: a scrape on the listener's thread never sees half of it. Clearing drops
    # the series of a session that closed since the last refresh.
    metrics.sittings.clear()
    for session_id, counts in found.items():
        for state, n in counts.items():
            metrics.sittings.labels(str(session_id), state.value).set(n)


class Exporter:
    """With `metrics_listen`: prometheus-client's own HTTP server on that address (a thread; no token, for a scraper
    on a private network), and the database's numbers read every `every` seconds instead of at each scrape."""

    def __init__(self, listen: str, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock, every: float) -> None:
        host, _, port = listen.rpartition(":")
        self._address = (host, int(port))
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._every = every
        self._server: WSGIServer | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        host, port = self._address
        self._server, _ = start_http_server(port, addr=host)
        self._task = asyncio.get_running_loop().create_task(self._refreshing())
        log.info("metrics.listening", address=f"{host}:{port}")

    async def _refreshing(self) -> None:
        while True:
            try:
                async with transaction(self._sessionmaker) as db:
                    await refresh(db, now=self._clock.now())
            except Exception:  # the database away for a moment: the next pass tries again
                log.exception("metrics.refresh.failed")
            await asyncio.sleep(self._every)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._server is not None:
            await asyncio.to_thread(self._server.shutdown)
            self._server.server_close()
