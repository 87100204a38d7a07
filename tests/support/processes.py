"""Real `dualcam serve` processes for tests: free loopback ports, a fake clock file, bounded waits, kill -9.

Also the pieces the scheduler tests share between the in-process and the process runs: an in-process app
over a chosen database (for set-up and for reference runs), the facts hook, and the audit normalization.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.clock import FakeClock
from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.services.sitting import sittings as sittings_service
from app.services.sitting.lifecycle import SittingState
from tests.support import databases
from tests.support.api import Api, SchemaChecker
from tests.support.keys import TEST_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

# Settings every test server gets: cheap password hashing, a fast scheduler tick, JSON logs to parse, and the
# suite's key (servers and in-process apps on one database often have different data dirs).
FAST = {
    "DUALCAM_ENV": "test",
    "DUALCAM_SECRET_KEY": TEST_SECRET_KEY,
    "DUALCAM_SCHEDULER_TICK_SECONDS": "0.2",
    "DUALCAM_ARGON2_TIME_COST": "1",
    "DUALCAM_ARGON2_MEMORY_KIB": "1024",
    "DUALCAM_LOG_JSON": "true",
    # No analysis workers beside the servers under test (tests of the analysis run it themselves).
    "DUALCAM_FLAGS_RUNNER_ENABLED": "false",
}


def dualcam_command() -> list[str]:
    script = Path(sys.executable).with_name("dualcam")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without any DUALCAM_ setting (CI may export some), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUALCAM_")}
    env.update(FAST)
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ClockFile:
    """The server processes' clock (DUALCAM_CLOCK_FILE). Written atomically: a reader never sees half a time."""

    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        self.set(start)

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("naive datetime")
        self.now = when
        tmp = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex}")
        tmp.write_text(when.isoformat())
        os.replace(tmp, self.path)


def run_cli(args: list[str], env: dict[str, str], timeout: float = 60) -> str:
    """Run `dualcam <args>`; a non-zero exit fails with its output."""
    done = subprocess.run(
        [*dualcam_command(), *args], env=child_env(env), cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"dualcam {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


class Server:
    """One `dualcam serve` process; restartable (each run logs to its own file)."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.env = env
        self.log_dir = log_dir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        assert not self.running, f"{self.name} is already running"
        self.port = free_port()
        log_path = self.log_dir / f"{self.name}-{len(self.logs) + 1}.log"
        self.logs.append(log_path)
        with log_path.open("wb") as out:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [*dualcam_command(), "serve", "--port", str(self.port)],
                env=child_env(self.env),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # signals reach this server only
            )

    async def start(self, timeout: float = 30) -> Server:
        """Spawn and wait until /healthz answers; a port taken between probe and bind is retried."""
        for _ in range(3):
            self.spawn()
            deadline = time.monotonic() + timeout
            async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
                while time.monotonic() < deadline:
                    if not self.running:
                        break
                    try:
                        if (await client.get("/healthz")).status_code == 200:
                            return self
                    except httpx.TransportError:
                        pass
                    await asyncio.sleep(0.05)
            if self.running:
                self.kill()
                raise AssertionError(f"{self.name} not healthy within {timeout}s:\n{self.log_tail()}")
            if "address already in use" not in self.log_tail().lower():
                raise AssertionError(f"{self.name} exited with {self.proc and self.proc.returncode}:\n{self.log_tail()}")
        raise AssertionError(f"{self.name}: no free port after 3 tries")

    def kill(self) -> None:
        """kill -9: no shutdown hook runs, nothing is released politely."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        if not self.logs or not self.logs[-1].exists():
            return ""
        return "\n".join(self.logs[-1].read_text(errors="replace").splitlines()[-lines:])

    def events(self, name: str | None = None, run: int | None = None) -> list[dict[str, Any]]:
        """Structured log events (JSON lines) of one run (1-based) or of all runs, in order."""
        paths = self.logs if run is None else [self.logs[run - 1]]
        found = []
        for path in paths:
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    event = json.loads(line)
                    if name is None or event.get("event") == name:
                        found.append(event)
        return found

    async def get(self, path: str, token: str | None = None, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as client:
            response = await client.get(path, headers=headers, params=params)
        assert response.status_code == 200, f"{self.name} GET {path}: {response.status_code} {response.text}"
        return response.json()

    async def role(self) -> str:
        return (await self.get("/readyz"))["checks"]["scheduler"]


class Servers:
    """Every server a test starts; all are killed at the end whatever happened."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.all: list[Server] = []

    def add(self, name: str, env: dict[str, str]) -> Server:
        server = Server(name, env, self.log_dir)
        self.all.append(server)
        return server

    def close(self) -> None:
        for server in self.all:
            server.kill()


async def wait_until(check: Callable[[], Awaitable[T]], *, timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll `check` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = await check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
        await asyncio.sleep(interval)


# --- PostgreSQL --------------------------------------------------------------------------------------


def create_empty_pg_database(admin_url: str = databases.PG_ADMIN_URL) -> str:
    """A fresh database with no schema: `dualcam migrate` builds it."""
    name = f"dualcam_test_{uuid.uuid4().hex[:12]}"

    async def create() -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    asyncio.run(create())
    return f"{admin_url.rpartition('/')[0]}/{name}"


# --- in-process app and shared scheduler helpers -----------------------------------------------------


def local_settings(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=data_dir,
        database_url=database_url,
        storage_url=None,
        redis_url=None,
        clock_file=None,
        scheduler_enabled=False,  # the test drives tick() itself, or real processes run the scheduler
        flags_runner_enabled=False,
        log_json=False,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        secret_key=TEST_SECRET_KEY,
    )


@asynccontextmanager
async def in_process_api(settings: Settings, clock: FakeClock, checker: SchemaChecker) -> AsyncIterator[Api]:
    """The app in this process over `settings`' database, like the `api` fixture."""
    app = create_app(settings, clock=clock)

    async def check(response: httpx.Response) -> None:
        checker.check(response.request.method, response.request.url.path, response.status_code)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", event_hooks={"response": [check]}) as client:
            yield Api(client=client, app=app, clock=clock)


# A formal session 2026-06-01 08:10/08:20/08:30/08:40 Beijing time and three confirmed candidates:
# 甲 gets ready (then never uploads: incomplete), 乙 never gets ready (absent), 丙 gets ready and uploads.
T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
OPENS, STARTS, ENDS, DEADLINE = (T0 + timedelta(minutes=m) for m in (10, 20, 30, 40))
QUESTIONS = ("请做一个简短的自我介绍。", "谈谈你对基层服务工作的理解。")
NAMES = ("甲", "乙", "丙")


@dataclass(frozen=True)
class Formal:
    ops: str
    exam_id: str
    session_id: str
    sittings: dict[str, str]  # candidate name -> sitting id


async def formal_scenario(api: Api) -> Formal:
    """Set up through the ops and candidate API (the clock must be before OPENS)."""
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    for question in QUESTIONS:
        await api.question(ops, session["id"], question)
    sittings = {}
    for seq, name in enumerate(NAMES, start=1):
        _, token = await api.candidate(ops, exam["id"], seq=seq, name=name)
        await api.confirm(token)
        sittings[name] = (await api.sitting_of(token, session["id"]))["id"]
    return Formal(ops=ops, exam_id=exam["id"], session_id=session["id"], sittings=sittings)


async def set_fact(
    sessionmaker: async_sessionmaker[AsyncSession],
    sitting_id: str,
    hook: Callable[..., SittingState],
    now: datetime,
) -> SittingState:
    """Call a sittings hook (mark_ready, mark_uploaded, ...) as the device/upload services will."""
    async with transaction(sessionmaker) as db:
        return hook(db, view=await sittings_service.load(db, sitting_id=uuid.UUID(sitting_id), now=now), now=now)


def comparable_audit(entries: list[dict[str, Any]]) -> list[str]:
    """Audit entries minus what only says *when* the scheduler ran (its `at` and `late_seconds`), sorted."""
    out = []
    for entry in entries:
        entry = dict(entry)
        if entry["actor_kind"] == "system" and entry["actor_id"] == "scheduler":
            entry.pop("at")
            entry["details"] = {k: v for k, v in entry["details"].items() if k != "late_seconds"}
        out.append(json.dumps(entry, sort_keys=True, ensure_ascii=False))
    return sorted(out)
