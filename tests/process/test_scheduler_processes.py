"""The scheduler in real `dualcam serve` processes, with the clock in a file (DUALCAM_CLOCK_FILE):

- SQLite, one process: kill -9 between two windows, move time past the rest, restart; the catch-up leaves
  exactly the state an uninterrupted in-process run leaves on a copy of the same database.
- PostgreSQL, two processes: one leader (advisory lock), one standby; each phase announced once; kill -9
  the leader and the standby takes over within a few ticks and announces what comes next.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.clock import FakeClock
from app.db import make_engine, make_sessionmaker
from app.services.sitting.lifecycle import SittingState
from app.services.sitting.facts import mark_ready, mark_uploaded
from tests.support import databases
from tests.support.api import Api, SchemaChecker
from tests.support.processes import (
    DEADLINE,
    ENDS,
    OPENS,
    STARTS,
    T0,
    ClockFile,
    Formal,
    Server,
    Servers,
    comparable_audit,
    create_empty_pg_database,
    formal_scenario,
    in_process_api,
    local_settings,
    run_cli,
    set_fact,
    wait_until,
)

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MINUTE = timedelta(minutes=1)
PHASES = ["waiting_open", "answer_start", "answer_end", "upload_closed"]
# Every fact and every clock position of the scenario, shared by the process run and the reference run.
READY_AT = OPENS + 2 * MINUTE
UPLOADED_AT = ENDS + MINUTE
FINAL = DEADLINE + 5 * MINUTE


@pytest.fixture
def sqlite_file(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A migrated SQLite file (SQLite even when the suite runs on PostgreSQL: the catch-up test is one process)."""
    template = request.getfixturevalue("database_template")
    if not isinstance(template, Path):
        template = databases.sqlite_template(tmp_path)
    target = tmp_path / "dualcam.sqlite3"
    sqlite_backup(template, target)
    return target


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not databases.pg_available():
        reason = f"PostgreSQL is unreachable at {databases.PG_ADMIN_URL}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the two-process leader test")
        pytest.skip(reason)
    url = create_empty_pg_database()
    yield url
    databases.drop_pg_database(url)


def sqlite_backup(source: Path, target: Path) -> None:
    """A consistent copy of a live WAL database (copying the main file alone can miss committed pages)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def database_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """What the scheduler writes, minus when it ran (announced_at)."""
    with closing(sqlite3.connect(path)) as db:
        return {
            "sittings": db.execute("SELECT * FROM sittings ORDER BY id").fetchall(),
            "announcements": db.execute("SELECT key, due_at FROM phase_announcements ORDER BY key").fetchall(),
        }


@asynccontextmanager
async def facts_db(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The device/face/upload services' side door onto the database the servers use."""
    engine = make_engine(url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


Get = Callable[..., Awaitable[Any]]


def via_server(server: Server, f: Formal) -> Get:
    return lambda path, **params: server.get(path, f.ops, **params)


def via_api(api: Api, f: Formal) -> Get:
    return lambda path, **params: api.ok("GET", path, f.ops, params=params)


async def announced(get: Get, f: Formal) -> list[str]:
    entries = await get("/api/v1/ops/audit", action="phase.announce", target_id=f.session_id, limit=1000)
    return [e["details"]["phase"] for e in sorted(entries, key=lambda e: e["details"]["due_at"])]


async def observed(get: Get, f: Formal) -> dict[str, Any]:
    """Everything an operator sees through the API once the session is over."""
    status = await get(f"/api/v1/ops/sessions/{f.session_id}/status")
    return {"status": status, "audit": comparable_audit(await get("/api/v1/ops/audit", limit=1000))}


def announced_keys(server: Server, run: int) -> list[str]:
    return [e["key"].rpartition(":")[2] for e in server.events("scheduler.phase.announced", run=run)]


async def test_catch_up_after_kill_9_leaves_the_state_of_an_uninterrupted_run(
    tmp_path: Path, servers: Servers, schema_checker: SchemaChecker, sqlite_file: Path
) -> None:
    url = f"sqlite+aiosqlite:///{sqlite_file}"
    async with in_process_api(local_settings(url, tmp_path / "setup"), FakeClock(T0), schema_checker) as api:
        f = await formal_scenario(api)
    reference_file = tmp_path / "reference.sqlite3"
    sqlite_backup(sqlite_file, reference_file)

    # --- real process: waiting opens, kill -9, time passes answer start and the deadline, restart --------
    started = time.monotonic()
    clock = ClockFile(tmp_path / "clock.txt", T0)
    server = servers.add("solo", {"DUALCAM_DATABASE_URL": url, "DUALCAM_DATA_DIR": str(tmp_path / "var"), "DUALCAM_CLOCK_FILE": str(clock.path)})
    await server.start()
    await wait_until(lambda: _is(server.role(), "leader"), timeout=10, what="the only process to lead")
    assert await announced(via_server(server, f), f) == []

    clock.set(READY_AT)
    await wait_until(lambda: announced(via_server(server, f), f), timeout=10, what="waiting_open")
    async with facts_db(url) as facts:
        for name in ("甲", "丙"):
            assert await set_fact(facts, f.sittings[name], mark_ready, READY_AT) is SittingState.ready
        status = await server.get(f"/api/v1/ops/sessions/{f.session_id}/status", f.ops)
        assert {k: v for k, v in status["counts"].items() if v} == {"ready": 2, "waiting": 1}

        server.kill()
        assert not server.running
        # While it is down: 丙's recordings are verified after answering ends, and time runs past the deadline.
        assert await set_fact(facts, f.sittings["丙"], mark_uploaded, UPLOADED_AT) is SittingState.uploaded
    clock.set(FINAL)

    await server.start()
    caught_up = await wait_until(
        lambda: _equal(announced(via_server(server, f), f), PHASES), timeout=15, what="all four phases after the restart"
    )
    assert caught_up == PHASES
    after = await observed(via_server(server, f), f)
    late = {e["details"]["phase"]: e["details"]["late_seconds"] for e in await server.get("/api/v1/ops/audit", f.ops, action="phase.announce")}
    server.stop()
    assert time.monotonic() - started < 30
    # The first run announced waiting_open only; the restarted one caught up on the rest, in order, late.
    assert announced_keys(server, run=1) == ["waiting_open"]
    assert announced_keys(server, run=2) == ["answer_start", "answer_end", "upload_closed"]
    assert late == {"waiting_open": 2 * 60.0, **{p: (FINAL - at).total_seconds() for p, at in (("answer_start", STARTS), ("answer_end", ENDS), ("upload_closed", DEADLINE))}}

    # --- reference: the same database copy, in this process, a tick at every boundary, same facts -------
    reference_clock = FakeClock(T0)
    reference_url = f"sqlite+aiosqlite:///{reference_file}"
    async with in_process_api(local_settings(reference_url, tmp_path / "reference"), reference_clock, schema_checker) as ref:
        scheduler = ref.app.state.scheduler
        for when, fact in ((OPENS, None), (READY_AT, mark_ready), (STARTS, None), (ENDS, None), (UPLOADED_AT, mark_uploaded), (DEADLINE, None), (FINAL, None)):
            reference_clock.set(when)
            if fact is mark_ready:
                for name in ("甲", "丙"):
                    await set_fact(ref.app.state.sessionmaker, f.sittings[name], mark_ready, when)
            elif fact is mark_uploaded:
                await set_fact(ref.app.state.sessionmaker, f.sittings["丙"], mark_uploaded, when)
            await scheduler.tick()
        assert await announced(via_api(ref, f), f) == PHASES
        reference = await observed(via_api(ref, f), f)

    assert after == reference
    assert database_rows(sqlite_file) == database_rows(reference_file)
    # And that common state is the right one.
    assert {k: v for k, v in after["status"]["counts"].items() if v} == {"uploaded": 1, "absent": 1, "incomplete": 1}
    decisions = sorted(e for e in after["audit"] if '"sitting.absent"' in e or '"sitting.incomplete"' in e)
    assert len(decisions) == 2
    assert f.sittings["乙"] in next(e for e in decisions if "absent" in e)
    assert f.sittings["甲"] in next(e for e in decisions if "incomplete" in e)


async def test_two_processes_on_postgresql_elect_one_leader_and_the_standby_takes_over_after_kill_9(
    tmp_path: Path, servers: Servers, schema_checker: SchemaChecker, pg_url: str
) -> None:
    env = {"DUALCAM_DATABASE_URL": pg_url, "DUALCAM_DATA_DIR": str(tmp_path / "var")}
    assert "migrated" in run_cli(["migrate"], env)
    async with in_process_api(local_settings(pg_url, tmp_path / "setup"), FakeClock(T0), schema_checker) as api:
        f = await formal_scenario(api)
        facts = api.app.state.sessionmaker
        clock = ClockFile(tmp_path / "clock.txt", T0)
        env["DUALCAM_CLOCK_FILE"] = str(clock.path)
        a, b = servers.add("a", env), servers.add("b", env)
        await asyncio.gather(a.start(), b.start())

        async def leader_now() -> Server | None:
            roles = {s.name: await s.role() for s in (a, b)}
            assert sorted(roles.values()) in (["leader", "standby"], ["standby", "standby"]), roles  # never two
            return next((s for s in (a, b) if roles[s.name] == "leader"), None)

        leader = await wait_until(leader_now, timeout=10, what="one of the two to lead")
        standby = b if leader is a else a

        async def phases_with_one_leader() -> list[str]:
            assert (await leader.role(), await standby.role()) == ("leader", "standby")
            return await announced(via_server(standby, f), f)  # any process answers for the shared database

        clock.set(READY_AT)
        assert await wait_until(lambda: _equal(phases_with_one_leader(), PHASES[:1]), timeout=10, what="waiting_open") == PHASES[:1]
        for name in ("甲", "丙"):
            assert await set_fact(facts, f.sittings[name], mark_ready, READY_AT) is SittingState.ready
        clock.set(STARTS + MINUTE)
        assert await wait_until(lambda: _equal(phases_with_one_leader(), PHASES[:2]), timeout=10, what="answer_start") == PHASES[:2]
        assert announced_keys(leader, run=1) == PHASES[:2]
        assert announced_keys(standby, run=1) == []
        assert len(leader.events("scheduler.leader.acquired")) == 1 and standby.events("scheduler.leader.acquired") == []

        leader.kill()
        killed_at = time.monotonic()
        await wait_until(lambda: _is(standby.role(), "leader"), timeout=5, what="the standby to take over")
        takeover = time.monotonic() - killed_at

        clock.set(UPLOADED_AT)
        assert await set_fact(facts, f.sittings["丙"], mark_uploaded, UPLOADED_AT) is SittingState.uploaded
        assert await wait_until(lambda: _equal(announced(via_server(standby, f), f), PHASES[:3]), timeout=10, what="answer_end") == PHASES[:3]
        clock.set(FINAL)
        assert await wait_until(lambda: _equal(announced(via_server(standby, f), f), PHASES), timeout=10, what="upload_closed") == PHASES
        assert announced_keys(standby, run=1) == PHASES[2:]

        get = via_server(standby, f)
        announce = await get("/api/v1/ops/audit", action="phase.announce", limit=1000)
        assert sorted(e["details"]["phase"] for e in announce) == sorted(PHASES)  # once each, across both processes
        assert [e["target_id"] for e in await get("/api/v1/ops/audit", action="sitting.absent")] == [f.sittings["乙"]]
        assert [e["target_id"] for e in await get("/api/v1/ops/audit", action="sitting.incomplete")] == [f.sittings["甲"]]
        status = await get(f"/api/v1/ops/sessions/{f.session_id}/status")
        assert {k: v for k, v in status["counts"].items() if v} == {"uploaded": 1, "absent": 1, "incomplete": 1}
        standby.stop()
    assert takeover < 5


async def _is(value: Awaitable[Any], expected: Any) -> bool:
    return await value == expected


async def _equal(value: Awaitable[Any], expected: Any) -> Any:
    got = await value
    return got if got == expected else None


