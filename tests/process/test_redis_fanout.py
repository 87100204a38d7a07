"""Fan-out across processes: two `dualcam serve` processes share PostgreSQL and Redis (127.0.0.1:6379), with
the clock in a file. The main phone's socket is on process A, the aux phone's on process B: each sees the
other's presence, and both get the phase pushes (only one process is the scheduler leader; Redis relays)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as redis
from httpx_ws import AsyncWebSocketSession, aconnect_ws

from app.adapters.redis_hub import RedisHub
from app.clock import FakeClock
from app.db import make_engine, make_sessionmaker, transaction
from app.services.sitting import presence, sittings
from tests.support import databases
from tests.support.api import Api
from tests.support.processes import OPENS, STARTS, T0, ClockFile, Server, Servers, create_empty_pg_database, run_cli
from tests.support.ws import next_message, wait_for

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

REDIS_URL = os.environ.get("DUALCAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
QUESTION = "请谈谈你对本岗位的理解。"
WAIT = 10.0  # seconds: a bounded wait for anything that crosses processes (the tick is 0.2 s)


def _redis_available() -> bool:
    async def ping() -> bool:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        try:
            return bool(await client.ping())
        except Exception:
            return False
        finally:
            await client.aclose()

    return asyncio.run(ping())


def _require(service: str, available: bool) -> None:
    if available:
        return
    reason = f"{service} is not reachable"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the two-process Redis fan-out test")
    pytest.skip(reason)


@pytest.fixture
def pg_url() -> Iterator[str]:
    _require(f"PostgreSQL ({databases.PG_ADMIN_URL})", databases.pg_available())
    _require(f"Redis ({REDIS_URL})", _redis_available())
    url = create_empty_pg_database()
    try:
        yield url
    finally:
        databases.drop_pg_database(url)


@asynccontextmanager
async def device_socket(server: Server, token: str) -> AsyncIterator[AsyncWebSocketSession]:
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        async with aconnect_ws(f"{server.url}/api/v1/ws?token={token}", client) as ws:
            yield ws


async def _face_passed(database_url: str, sitting_id: str, now: Any) -> str:
    """What the face gate does on a pass, from outside both servers: facts in PostgreSQL, news through Redis."""
    engine = make_engine(database_url)
    hub = RedisHub(REDIS_URL)
    try:
        async with transaction(make_sessionmaker(engine), hub) as db:
            view = await sittings.load(db, sitting_id=uuid.UUID(sitting_id), now=now)
            state = await presence.face_passed(db, view=view, now=now, timeout=timedelta(hours=1))
    finally:
        await hub.close()
        await engine.dispose()
    return state.value


async def _pair(a: Server, b: Server, main_token: str) -> dict[str, Any]:
    """The main phone (on A) shows a pairing code; the aux phone scans it and claims it on B."""
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        offer = await http.post("/api/v1/device/pairing", headers={"Authorization": f"Bearer {main_token}"})
        assert offer.status_code == 201, offer.text
    async with httpx.AsyncClient(base_url=b.url, timeout=10) as http:
        claim = await http.post("/api/v1/pairing/claim", json={"token": offer.json()["token"]})
        assert claim.status_code == 201, claim.text
    return claim.json()


async def test_main_on_one_process_and_aux_on_another_share_presence_and_phases(
    pg_url: str, servers: Servers, tmp_path: Path
) -> None:
    env = {"DUALCAM_DATABASE_URL": pg_url}
    run_cli(["migrate"], env)
    created = run_cli(["staff", "create", "ops-fanout"], env)
    password = next(line.split(": ", 1)[1] for line in created.splitlines() if line.startswith("password: "))

    clock = ClockFile(tmp_path / "clock.txt", T0)
    shared = {
        **env,
        "DUALCAM_REDIS_URL": REDIS_URL,
        "DUALCAM_CLOCK_FILE": str(clock.path),
        "DUALCAM_PRESENCE_TIMEOUT_SECONDS": "3600",  # wall-clock heartbeats play no part here
        "DUALCAM_DATA_DIR": str(tmp_path / "var"),
    }
    a = await servers.add("a", shared).start()
    b = await servers.add("b", shared).start()

    # Seed through process A's HTTP API, as ops and the candidate would.
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        api = Api(client=http, app=None, clock=FakeClock(T0))  # type: ignore[arg-type]
        ops = (await api.ok("POST", "/api/v1/auth/staff/login", json={"username": "ops-fanout", "password": password}))["token"]
        exam = await api.exam(ops)
        session = await api.timed_session(ops, exam["id"], OPENS, STARTS, STARTS + timedelta(minutes=10), STARTS + timedelta(minutes=20))
        await api.question(ops, session["id"], QUESTION)
        _, candidate = await api.candidate(ops, exam["id"])
        await api.confirm(candidate)
        sitting_id = (await api.sitting_of(candidate, session["id"]))["id"]
        main_token = await api.device(candidate, sitting_id, "main")
    aux_token = (await _pair(a, b, main_token))["token"]

    async with device_socket(b, aux_token) as old_aux:
        assert (await next_message(old_aux))["peer"] == {"online": False}
        async with device_socket(a, main_token) as main:
            hello = await next_message(main)
            assert hello["device"]["role"] == "main" and hello["peer"] == {"online": True}
            # A announced the main phone through Redis; B delivered it to the aux phone.
            assert (await wait_for(old_aux, "peer.online", timeout=WAIT))["role"] == "main"

            # The aux phone is replaced (re-pairing, claimed on B): the main phone on A sees it live.
            new_aux = await _pair(a, b, main_token)
            status = await wait_for(main, "pair.status", timeout=WAIT)
            assert status["aux_device_id"] == new_aux["device_id"]
            assert (await wait_for(old_aux, "command", timeout=WAIT))["reason"] == "superseded"
            async with device_socket(b, new_aux["token"]) as aux:
                assert (await next_message(aux))["peer"] == {"online": True}
                assert (await wait_for(main, "peer.online", timeout=WAIT))["device_id"] == new_aux["device_id"]

                # Time moves for both processes at once; exactly one of them announces.
                clock.set(OPENS + timedelta(seconds=1))
                for ws in (main, aux):
                    phase = await wait_for(ws, "phase", timeout=WAIT)
                    assert phase["phase"] == "waiting_open" and "questions" not in phase
                assert await _face_passed(pg_url, sitting_id, clock.now) == "ready"
                for ws in (main, aux):
                    await wait_for(ws, "sitting.state", timeout=WAIT, state="ready")

                clock.set(STARTS)
                for ws in (main, aux):
                    phase = await wait_for(ws, "phase", timeout=WAIT, phase="answer_start")
                    assert [q["text"] for q in phase["questions"]] == [QUESTION]

            # The aux phone leaves (on B): the main phone on A is told.
            assert (await wait_for(main, "peer.offline", timeout=WAIT))["device_id"] == new_aux["device_id"]

    roles = sorted([await a.role(), await b.role()])
    assert roles == ["leader", "standby"]
    announced = [e for s in (a, b) for e in s.events("scheduler.phase.announced")]
    assert sorted(e["key"].rsplit(":", 1)[1] for e in announced) == ["answer_start", "waiting_open"]
