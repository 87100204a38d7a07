"""The scheduler: announces phases and records final decisions, in exactly one process.

APScheduler (3.x, in-memory job store per process) runs a short tick in every process; a tick does work
only in the leader. Leadership is a PostgreSQL session-level advisory lock held on a dedicated
connection (released by the server if the process dies); with SQLite there is one process, the leader.
A session boundary due before the next tick gets a pass of its own at that instant, so an answer start is pushed
on the dot rather than up to a tick late.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from app import metrics
from app.adapters.hub import Hub
from app.clock import Clock
from app.db import transaction
from app.logs import get_logger
from app.services.sitting import phases, presence

log = get_logger(__name__)

# Any constant works; it names "the dualcam scheduler" among advisory locks of this database.
ADVISORY_LOCK_KEY = 0x6475_616C_6361_6D


class Leadership(Protocol):
    async def hold(self) -> bool:
        """True while this process is the leader; tries to become it when not."""
        ...

    async def release(self) -> None: ...


class SoleLeader:
    """SQLite: one process, always the leader."""

    async def hold(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class PostgresLeader:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def hold(self) -> bool:
        if self._conn is not None:
            try:  # still ours only while the connection that holds the lock is alive
                await self._conn.execute(text("SELECT 1"))
                await self._conn.commit()  # never sit "idle in transaction" (idle_in_transaction_session_timeout would end it)
                return True
            except Exception as exc:
                log.warning("scheduler.leader.lost", error=repr(exc))
                await self._drop()
        conn = await self._engine.connect()
        try:
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})).scalar()
            await conn.commit()  # the lock is session-level: it outlives this transaction
        except Exception:
            await conn.close()
            raise
        if got:
            self._conn = conn
            log.info("scheduler.leader.acquired")
            return True
        await conn.close()
        return False

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.invalidate()
            except Exception:  # the connection is already broken; the server frees the lock
                pass

    async def release(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                await self._conn.commit()
            finally:
                await self._conn.close()
                self._conn = None


async def run_due(sessionmaker: async_sessionmaker[AsyncSession], hub: Hub, now: datetime, *, live_still_seconds: int) -> int:
    """One pass: announce every phase whose time has come, each in its own transaction, then publish."""
    async with transaction(sessionmaker) as db:
        due = await phases.find_due(db, now=now)
    announced = 0
    for item in due:
        try:
            async with transaction(sessionmaker) as db:
                outbox = await phases.announce(db, due=item, now=now, live_still_seconds=live_still_seconds)
        except IntegrityError:
            continue  # another process or an earlier pass announced it
        announced += 1
        log.info("scheduler.phase.announced", key=item.key, late_seconds=round((now - item.at).total_seconds(), 3))
        for channel, message in outbox.messages:
            await hub.publish(channel, message)
    return announced


async def sweep_presence(sessionmaker: async_sessionmaker[AsyncSession], hub: Hub, now: datetime, timeout: timedelta) -> int:
    """Phones silent past the timeout go offline; interruptions past their grace break the policy."""
    async with transaction(sessionmaker, hub) as db:
        return await presence.sweep(db, now=now, timeout=timeout)


@dataclass(frozen=True, slots=True)
class Job:
    """Work the leader does on every tick after the announcements and the presence sweep."""

    name: str
    run: Callable[[], Awaitable[object]]


class Scheduler:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        hub: Hub,
        clock: Clock,
        leadership: Leadership,
        tick_seconds: float,
        live_still_seconds: int,
        presence_timeout: timedelta = timedelta(seconds=30),
        jobs: Sequence[Job] = (),
    ) -> None:
        self._sessionmaker = sessionmaker
        self._hub = hub
        self._clock = clock
        self._leadership = leadership
        self._tick_seconds = tick_seconds
        self._presence_timeout = presence_timeout
        self._live_still_seconds = live_still_seconds
        self._jobs = tuple(jobs)
        self._aps = AsyncIOScheduler()
        self._lock = asyncio.Lock()
        self._running = False
        self._stopped = False
        self._is_leader = False
        self._last_tick: float | None = None  # monotonic start of the previous tick

    @property
    def is_leader(self) -> bool:
        return self._is_leader

    @is_leader.setter
    def is_leader(self, value: bool) -> None:
        self._is_leader = value
        metrics.scheduler_leader.set(1 if value else 0)

    async def tick(self, *, on_the_dot: bool = False) -> int:
        """One pass (announcements, presence, the jobs) if this process leads. `on_the_dot`: a pass woken for a
        boundary between two ticks (it does not count towards the ticks' lag)."""
        if not on_the_dot:
            started = time.monotonic()
            if self._running and self._last_tick is not None:
                # Ticks are due every tick_seconds: a longer gap is how late this one is (a busy loop, a slow pass).
                metrics.scheduler_lag.set(max(0.0, started - self._last_tick - self._tick_seconds))
            self._last_tick = started
        async with self._lock:  # a slow pass is never overlapped by the next tick
            if self._stopped:  # a tick already queued when stop() ran must not take the lead again
                return 0
            try:
                return await self._pass()
            finally:
                if not self._running:
                    # A one-off pass (tests, tools) on a scheduler that is not started holds no lead afterwards:
                    # nothing would ever release it (stop() is for started schedulers) and, on PostgreSQL, the
                    # advisory lock would stay with a connection the engine's dispose() does not close.
                    await self._release()

    async def _pass(self) -> int:
        try:
            self.is_leader = await self._leadership.hold()
        except Exception:  # e.g. the database is unreachable: not the leader until a tick says so
            self.is_leader = False
            log.exception("scheduler.leader.check.failed")
            return 0
        if not self.is_leader:
            return 0
        metrics.scheduler_last_pass.set_to_current_time()
        try:
            now = self._clock.now()
            announced = await run_due(self._sessionmaker, self._hub, now, live_still_seconds=self._live_still_seconds)
            await sweep_presence(self._sessionmaker, self._hub, now, self._presence_timeout)
            for job in self._jobs:
                try:
                    await job.run()
                except Exception:  # one job's failure (S3 down) must not stop the others' passes
                    log.exception("scheduler.job.failed", job=job.name)
            if self._running:
                await self._wake_for_next_boundary()
            return announced
        except Exception:
            log.exception("scheduler.tick.failed")
            return 0

    async def _wake_for_next_boundary(self) -> None:
        """A boundary due before the next tick gets a pass of its own at that instant (timed on this process's
        clock: the injected one may be a file or a fake that does not follow the wall)."""
        now = self._clock.now()
        async with transaction(self._sessionmaker) as db:
            at = await phases.next_boundary(db, after=now, within=timedelta(seconds=self._tick_seconds))
        if at is not None:
            run_date = datetime.now(UTC) + (at - now) + timedelta(milliseconds=2)  # at, not a hair before
            self._aps.add_job(self.tick, "date", run_date=run_date, kwargs={"on_the_dot": True}, id="boundary", replace_existing=True)

    async def _release(self) -> None:
        try:
            await self._leadership.release()
        except Exception:  # the connection is gone; the server has freed the lock with it
            log.exception("scheduler.leader.release.failed")
        self.is_leader = False

    def start(self) -> asyncio.Task[int]:
        """Tick every tick_seconds from now on; answers the first pass, run at once (catching up)."""
        self._running = True
        self._aps.add_job(
            self.tick, "interval", seconds=self._tick_seconds, id="tick", max_instances=1, coalesce=True
        )
        self._aps.start()
        # First pass right away: catch up on whatever was due while the process was down.
        self._first = asyncio.get_running_loop().create_task(self.tick())
        return self._first

    async def stop(self) -> None:
        if self._aps.running:
            self._aps.shutdown(wait=False)
        async with self._lock:
            self._stopped, self._running = True, False
            await self._release()
