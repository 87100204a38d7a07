"""Idle device sockets on one `dualcam serve` process, and the answer-start push to all of them (JSON on stdout).

    .venv/bin/python bench/ws_fanout.py [--sockets 1000,5000,10000] [--clients 2] [--budget 300]

For each N: a fresh SQLite database (`dualcam migrate`), one formal session seeded in a separate process through
the app's models and services (N/2 confirmed candidates, each `ready` with a main and an aux phone: N device
tokens; `--absent 0.1` leaves a tenth not ready, so their phones get the phase without the question and then
`sitting.state` absent), then `dualcam serve` (uvicorn with the options `dualcam serve` uses, the in-memory hub, scheduler tick 1 s)
with the clock in a file (DUALCAM_CLOCK_FILE) inside the waiting window. Client processes (the `websockets` library,
asyncio) open the N sockets and read each `hello`; the server's RSS (VmRSS from /proc) is read before the first and
after the last socket. Then the clock file moves to answer start: the scheduler's next tick announces the phase
(log event `scheduler.phase.announced`, stamped in wall time, ms) and every socket should receive it with the
question. Reported per N: sockets reached, memory per socket, and the delivery latency of the phase (p50/p99/max)
from the announcement (and, for the whole path, from the clock-file write, which adds up to one tick).

The peer in the same run: a trivial `websockets` server (no auth, no database, one `broadcast()` call) holding N
idle sockets opened by the same clients, and broadcasting a message of the same size, with the same framing as
`dualcam serve` (no permessage-deflate; `--peer-deflate` turns it on): the raw limit of Python WebSockets on this
machine. Client and server share the machine's cores, so latencies include the clients' own work of receiving N
messages.

The document ends with `summary`: the most sockets one process reached, memory per socket, and the push latency
(p50/p99/max) of dualcam and of the peer at the largest N, against the targets (10,000 sockets; p99 <= 1 s).

Subcommands (used by the orchestrator; runnable alone): `seed`, `client`, `peer-server`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
OPENS, STARTS, ENDS, DEADLINE = (T0 + timedelta(minutes=m) for m in (10, 20, 30, 120))
QUESTION = "正式题：请结合岗位谈谈你的职业规划。Formal: your plan for this role."
TICK_SECONDS = 1.0  # the default (DUALCAM_SCHEDULER_TICK_SECONDS)


def _raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (so the numbers mean something on a shared, busy machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731 (nearest rank)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1), "p99_ms": round(at(0.99) * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}


# --- seed (separate process) ---------------------------------------------------------------------------


async def _seed(database_url: str, pairs: int, out: Path, absent: float = 0.0) -> dict[str, Any]:
    from app.db import make_engine, make_sessionmaker, transaction
    from app.models import AuthToken, Candidate, Device, DeviceRole, Role, SessionKind, Sitting
    from app.security import new_token, token_digest
    from app.services.exam import exams, sessions
    from app.services.audit import Actor

    engine = make_engine(database_url)
    actor = Actor("ops", "bench")
    tokens: list[str] = []
    try:
        async with transaction(make_sessionmaker(engine)) as db:
            exam = await exams.create_exam(
                db,
                fields={
                    "title": "ws fan-out bench", "organizer": "bench", "province": "山东", "identity_category": "其他",
                    "confirm_opens_at": T0 - timedelta(days=1), "confirm_closes_at": T0 + timedelta(days=1),
                    "rules_text": "不得退出视频录制过程。",
                },
                default_timezone="Asia/Shanghai",
                now=T0,
                actor=actor,
            )  # fmt: skip
            session = await sessions.create_session(
                db,
                exam=exam,
                kind=SessionKind.formal,
                fields={"title": "bench", "waiting_opens_at": OPENS, "answer_starts_at": STARTS, "answer_ends_at": ENDS, "upload_deadline": DEADLINE},
                now=T0,
                actor=actor,
            )
            await sessions.add_question(db, session=session, text=QUESTION, now=T0, actor=actor)
            ready_at = OPENS + timedelta(minutes=1)
            not_ready = round(pairs * absent)  # the last ones: no face check, so absent at answer start
            # No ORM relationships between these tables: flush table by table so the rows go in parent-first.
            candidates = [
                Candidate(
                    id=uuid.uuid4(), exam_id=exam.id, name=f"考生{i}", id_number_hash=hashlib.sha256(f"bench-{i}".encode()).hexdigest(),
                    id_number_masked="3701**********000X", phone=f"139{i:08d}", created_at=T0, confirmed_at=T0,
                )
                for i in range(pairs)
            ]  # fmt: skip
            db.add_all(candidates)
            await db.flush()
            sittings = [
                Sitting(id=uuid.uuid4(), candidate_id=c.id, session_id=session.id, attempt=1, created_at=T0, face_passed_at=at, ready_at=at)
                for i, c in enumerate(candidates)
                for at in [None if i >= pairs - not_ready else ready_at]
            ]
            db.add_all(sittings)
            await db.flush()
            devices = [
                Device(id=uuid.uuid4(), sitting_id=s.id, candidate_id=s.candidate_id, role=role, created_at=T0, telemetry={})
                for s in sittings
                for role in DeviceRole
            ]
            db.add_all(devices)
            await db.flush()
            for device in devices:
                token = new_token("dcd")
                db.add(AuthToken(token_hash=token_digest(token), role=Role.device, device_id=device.id, created_at=T0, expires_at=T0 + timedelta(days=30)))
                tokens.append(token)
            await db.flush()
    finally:
        await engine.dispose()
    out.write_text(json.dumps(tokens))
    return {"session_id": str(session.id), "candidates": pairs, "not_ready": not_ready, "device_tokens": len(tokens)}


# --- client (separate process) -----------------------------------------------------------------------


async def _client(urls: list[str], concurrency: int, wait_seconds: float, linger: float = 3.0) -> None:
    """Open every socket, report `ready`, stamp the arrival of the answer-start phase on each, report `result`."""
    from websockets.asyncio.client import connect

    _raise_fd_limit()
    gate = asyncio.Semaphore(concurrency)
    opened = asyncio.Event()
    arrivals: list[float] = []
    with_question = 0
    failures: dict[str, int] = {}
    connected = 0
    pending = len(urls)
    everyone = asyncio.Event()

    def done_connecting() -> None:
        nonlocal pending
        pending -= 1
        if pending == 0:
            opened.set()

    async def one(url: str) -> None:
        nonlocal connected, with_question
        try:
            async with gate:
                ws = await connect(url, open_timeout=120, ping_interval=None, close_timeout=1, max_size=2**20)
                await asyncio.wait_for(ws.recv(), 120)  # hello (dualcam) or the peer's greeting
        except Exception as exc:
            failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
            done_connecting()
            return
        connected += 1
        done_connecting()
        try:
            async for message in ws:
                if '"answer_start"' in message:  # cheap test first: the stamp is what we measure
                    arrivals.append(time.time())
                    if QUESTION in message:
                        with_question += 1
                    if len(arrivals) == connected:
                        everyone.set()
                    break
            await everyone.wait()
        except Exception as exc:
            failures["after_open:" + type(exc).__name__] = failures.get("after_open:" + type(exc).__name__, 0) + 1
        finally:
            with contextlib.suppress(Exception):
                await ws.close()

    tasks = [asyncio.create_task(one(url)) for url in urls]
    await opened.wait()
    print(json.dumps({"event": "ready", "connected": connected, "failures": failures}), flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(everyone.wait(), wait_seconds)
    print(json.dumps({"event": "result", "connected": connected, "arrivals": arrivals, "with_question": with_question, "failures": failures}), flush=True)
    await asyncio.sleep(linger)  # the server's CPU for the fan-out is read now: no disconnects in it
    everyone.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- the peer: a trivial websockets server (separate process) ------------------------------------------------


async def _peer_server(port: int, deflate: bool) -> None:
    from websockets.asyncio.server import broadcast, serve

    _raise_fd_limit()
    sockets: set[Any] = set()
    phase = json.dumps({"type": "phase", "phase": "answer_start", "session_id": str(uuid.uuid4()), "at": STARTS.isoformat(),
                        "questions": [{"id": str(uuid.uuid4()), "position": 1, "text": QUESTION, "has_image": False}]}, ensure_ascii=False)  # fmt: skip

    async def handler(ws: Any) -> None:
        if ws.request.path == "/control":
            await ws.recv()
            started = time.time()
            broadcast(sockets, phase)
            await ws.send(json.dumps({"broadcast_at": started, "sockets": len(sockets)}))
            return
        sockets.add(ws)
        try:
            await ws.send('{"type": "hello"}')
            await ws.wait_closed()
        finally:
            sockets.discard(ws)

    compression = "deflate" if deflate else None
    async with serve(handler, "127.0.0.1", port, ping_interval=None, max_size=2**20, backlog=4096, compression=compression):
        print(json.dumps({"event": "listening", "port": port}), flush=True)
        await asyncio.Future()


# --- orchestration ---------------------------------------------------------------------------------------


def _dualcam() -> list[str]:
    script = Path(sys.executable).with_name("dualcam")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def _env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUALCAM_")}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)
    raise RuntimeError("server did not listen in time")


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Clients:
    """`count` client processes sharing the URLs; they report `ready` then `result` as JSON lines."""

    def __init__(self, urls: list[str], count: int, wait_seconds: float, concurrency: int) -> None:
        self.procs = []
        for i in range(count):
            part = urls[i::count]
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, __file__, "client", "--concurrency", str(concurrency), "--wait-seconds", str(wait_seconds)],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env({}),
                )  # fmt: skip
            )
            assert self.procs[-1].stdin is not None
            self.procs[-1].stdin.write("\n".join(part) + "\n")
            self.procs[-1].stdin.close()

    def read(self, event: str, timeout: float) -> list[dict[str, Any]]:
        found = []
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            assert proc.stdout is not None
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"clients did not report {event} in {timeout}s")
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"a client exited before {event}")
                message = json.loads(line)
                if message["event"] == event:
                    found.append(message)
                    break
        return found

    def close(self) -> None:
        for proc in self.procs:
            _stop(proc)


def _merge(reports: list[dict[str, Any]]) -> dict[str, Any]:
    failures: dict[str, int] = {}
    for r in reports:
        for k, v in r["failures"].items():
            failures[k] = failures.get(k, 0) + v
    return {
        "connected": sum(r["connected"] for r in reports),
        "arrivals": [t for r in reports for t in r.get("arrivals", [])],
        "with_question": sum(r.get("with_question", 0) for r in reports),
        "failures": failures,
    }


def _announced_at(log: Path, phase: str) -> float | None:
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            event = json.loads(line)
            if event.get("event") == "scheduler.phase.announced" and event.get("key", "").endswith(":" + phase):
                return datetime.fromisoformat(event["ts"]).timestamp()
    return None


def _pg_admin(admin_url: str, statement: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    async def run() -> None:
        engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


def run_dualcam(n: int, clients: int, concurrency: int, work: Path, connect_timeout: float, pg_admin: str | None, absent: float) -> dict[str, Any]:
    data = work / f"dualcam-{n}"
    data.mkdir()
    if pg_admin:
        name = f"dualcam_bench_{uuid.uuid4().hex[:10]}"
        _pg_admin(pg_admin, f'CREATE DATABASE "{name}"')
        database_url = f"{pg_admin.rpartition('/')[0]}/{name}"
    else:
        database_url = f"sqlite+aiosqlite:///{data / 'dualcam.sqlite3'}"
    try:
        return _run_dualcam(n, clients, concurrency, data, connect_timeout, database_url, absent)
    finally:
        if pg_admin:
            _pg_admin(pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run_dualcam(n: int, clients: int, concurrency: int, data: Path, connect_timeout: float, database_url: str, absent: float) -> dict[str, Any]:
    clock = data / "clock.txt"
    clock.write_text((OPENS + timedelta(minutes=5)).isoformat())  # inside the waiting window: everyone is ready
    env = _env({
        "DUALCAM_DATA_DIR": str(data), "DUALCAM_DATABASE_URL": database_url, "DUALCAM_CLOCK_FILE": str(clock),
        "DUALCAM_SCHEDULER_TICK_SECONDS": str(TICK_SECONDS), "DUALCAM_PRESENCE_TIMEOUT_SECONDS": "3600",
        "DUALCAM_LOG_JSON": "true", "DUALCAM_ENV": "development",
    })  # fmt: skip
    subprocess.run([*_dualcam(), "migrate"], env=env, cwd=data, check=True, capture_output=True)
    tokens_file = data / "tokens.json"
    started = time.monotonic()
    seeded = subprocess.run(
        [sys.executable, __file__, "seed", "--database-url", database_url, "--pairs", str(n // 2), "--out", str(tokens_file), "--absent", str(absent)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if seeded.returncode != 0:
        raise RuntimeError(f"seed failed: {seeded.stderr[-2000:]}")
    seed_seconds = time.monotonic() - started
    tokens = json.loads(tokens_file.read_text())
    port = _free_port()
    log = data / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([*_dualcam(), "serve", "--port", str(port)], env=env, cwd=data, stdout=out, stderr=subprocess.STDOUT)
    pool: Clients | None = None
    try:
        _wait_port(port, server)
        deadline = time.monotonic() + 30
        while _announced_at(log, "waiting_open") is None and time.monotonic() < deadline:
            time.sleep(0.1)  # the first tick announces the (past) waiting window: not part of the measurement
        time.sleep(1)
        rss_before, cpu_before = _rss_kib(server.pid), _cpu_seconds(server.pid)
        started = time.monotonic()
        pool = Clients([f"ws://127.0.0.1:{port}/api/v1/ws?token={t}" for t in tokens], clients, 60, concurrency)
        ready = _merge(pool.read("ready", timeout=connect_timeout))
        connect_seconds, cpu_connect = time.monotonic() - started, _cpu_seconds(server.pid) - cpu_before
        time.sleep(2)
        rss_after, cpu_before = _rss_kib(server.pid), _cpu_seconds(server.pid)
        written_at = time.time()
        clock.write_text(STARTS.isoformat())
        result = _merge(pool.read("result", timeout=90))
        cpu_fanout = _cpu_seconds(server.pid) - cpu_before
        announced_at = _announced_at(log, "answer_start")
        errors = [json.loads(line) for line in log.read_text(errors="replace").splitlines() if line.startswith("{") and '"level": "error"' in line]
        errors = [e for e in errors if e["event"] != "face.engine.unavailable"]  # no face models in the bench's data dir
    finally:
        if pool is not None:
            pool.close()
        _stop(server)
    arrivals = result["arrivals"]
    return {
        "sockets_target": n,
        "sockets_connected": ready["connected"],
        "connect_failures": ready["failures"],
        "connect_seconds": round(connect_seconds, 1),
        "server_cpu_ms_per_connect": round(cpu_connect * 1000 / max(1, ready["connected"]), 2),
        "seed_seconds": round(seed_seconds, 1),
        "seed": json.loads(seeded.stdout),
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_after_mib": round(rss_after / 1024, 1),
        "kib_per_socket": round((rss_after - rss_before) / max(1, ready["connected"]), 1),
        "phase_received": len(arrivals),
        "phase_with_question": result["with_question"],
        "latency_from_announcement": _percentiles([t - announced_at for t in arrivals]) if announced_at else None,
        "latency_from_clock_write": _percentiles([t - written_at for t in arrivals]),
        "announcement_after_clock_write_ms": round((announced_at - written_at) * 1000, 1) if announced_at else None,
        "server_cpu_ms_fanout": round(cpu_fanout * 1000, 1),
        "server_errors": len(errors),
        "server_error_events": sorted({f"{e['event']}: {e.get('exc', '').strip().splitlines()[-1:]}" for e in errors})[:5],
    }


def run_peer(n: int, clients: int, concurrency: int, deflate: bool) -> dict[str, Any]:
    port = _free_port()
    command = [sys.executable, __file__, "peer-server", "--port", str(port), *(["--deflate"] if deflate else [])]
    server = subprocess.Popen(command, env=_env({}), stdout=subprocess.DEVNULL)
    pool: Clients | None = None
    try:
        _wait_port(port, server)
        time.sleep(0.5)
        rss_before, cpu_before = _rss_kib(server.pid), _cpu_seconds(server.pid)
        started = time.monotonic()
        pool = Clients([f"ws://127.0.0.1:{port}/"] * n, clients, 60, concurrency)
        ready = _merge(pool.read("ready", timeout=400))
        connect_seconds, cpu_connect = time.monotonic() - started, _cpu_seconds(server.pid) - cpu_before
        time.sleep(2)
        rss_after, cpu_before = _rss_kib(server.pid), _cpu_seconds(server.pid)
        control = asyncio.run(_control(port))
        result = _merge(pool.read("result", timeout=90))
        cpu_fanout = _cpu_seconds(server.pid) - cpu_before
    finally:
        if pool is not None:
            pool.close()
        _stop(server)
    arrivals = result["arrivals"]
    return {
        "sockets_target": n,
        "permessage_deflate": deflate,
        "sockets_connected": ready["connected"],
        "connect_failures": ready["failures"],
        "connect_seconds": round(connect_seconds, 1),
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_after_mib": round(rss_after / 1024, 1),
        "kib_per_socket": round((rss_after - rss_before) / max(1, ready["connected"]), 1),
        "server_cpu_ms_per_connect": round(cpu_connect * 1000 / max(1, ready["connected"]), 2),
        "phase_received": len(arrivals),
        "latency_from_broadcast": _percentiles([t - control["broadcast_at"] for t in arrivals]),
        "server_cpu_ms_fanout": round(cpu_fanout * 1000, 1),
    }


async def _control(port: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}/control", ping_interval=None) as ws:
        await ws.send("go")
        return json.loads(await ws.recv())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--sockets", default="1000,5000,10000", help="socket counts to try, in order")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--concurrency", type=int, default=20, help="handshakes in flight per client process")
    parser.add_argument("--budget", type=float, default=300, help="seconds: no larger N is started after this")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--peer-deflate", action="store_true", help="the peer negotiates permessage-deflate (dualcam serve does not)")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="PostgreSQL instead of SQLite (a scratch database is created and dropped)")
    parser.add_argument("--connect-timeout", type=float, default=600, help="seconds for all N sockets to open")
    parser.add_argument("--absent", type=float, default=0.0, help="fraction of candidates not ready at answer start (absent: the phase without the question)")
    seed = sub.add_parser("seed")
    seed.add_argument("--database-url", required=True)
    seed.add_argument("--pairs", type=int, required=True)
    seed.add_argument("--out", type=Path, required=True)
    seed.add_argument("--absent", type=float, default=0.0)
    client = sub.add_parser("client")
    client.add_argument("--concurrency", type=int, default=100)
    client.add_argument("--wait-seconds", type=float, default=60)
    peer = sub.add_parser("peer-server")
    peer.add_argument("--port", type=int, required=True)
    peer.add_argument("--deflate", action="store_true")
    args = parser.parse_args()

    if args.command == "seed":
        print(json.dumps(asyncio.run(_seed(args.database_url, args.pairs, args.out, args.absent))))
        return
    if args.command == "client":
        urls = [line.strip() for line in sys.stdin if line.strip()]
        asyncio.run(_client(urls, args.concurrency, args.wait_seconds))
        return
    if args.command == "peer-server":
        asyncio.run(_peer_server(args.port, args.deflate))
        return

    fd_limit = _raise_fd_limit()
    began = time.monotonic()
    runs = []
    with tempfile.TemporaryDirectory(prefix="ws-fanout-") as tmp:
        for n in (int(x) for x in args.sockets.split(",")):
            if runs and time.monotonic() - began > args.budget:
                runs.append({"sockets_target": n, "skipped": f"time budget of {args.budget:.0f} s spent"})
                continue
            run: dict[str, Any] = {"sockets": n}
            try:
                run["dualcam"] = run_dualcam(n, args.clients, args.concurrency, Path(tmp), args.connect_timeout, args.postgres, args.absent)
            except Exception as exc:  # report what happened and go on with the peer
                run["dualcam"] = {"error": repr(exc)}
            if not args.no_peer:
                try:
                    run["peer_websockets"] = run_peer(n, args.clients, args.concurrency, args.peer_deflate)
                except Exception as exc:
                    run["peer_websockets"] = {"error": repr(exc)}
            runs.append(run)
            print(json.dumps(run), file=sys.stderr, flush=True)  # progress
    import uvicorn
    import websockets

    print(json.dumps({
        "benchmark": "ws_fanout",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "fd_limit": fd_limit, "load_average": os.getloadavg()},
        "server": f"dualcam serve: uvicorn {uvicorn.__version__} --ws websockets-sansio (no permessage-deflate), one process, {'PostgreSQL' if args.postgres else 'SQLite'}, in-memory hub, scheduler tick {TICK_SECONDS} s",
        "peer": f"websockets {websockets.__version__} asyncio server, broadcast(), one process, permessage-deflate {'on' if args.peer_deflate else 'off'}",
        "client": f"{args.clients} processes of websockets {websockets.__version__} asyncio clients (permessage-deflate offered, as browsers do)",
        "sockets_per_candidate": 2,
        "absent": args.absent,
        "summary": summarize(runs),
        "runs": runs,
        "seconds": round(time.monotonic() - began, 1),
    }, indent=2, ensure_ascii=False))  # fmt: skip


TARGET_SOCKETS, TARGET_P99_MS = 10_000, 1000.0


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The headline numbers: the most sockets reached, and memory and push latency at the largest N run."""
    done = [r for r in runs if isinstance(r.get("dualcam"), dict) and "sockets_connected" in r["dualcam"]]
    if not done:
        return {"error": "no run completed"}
    largest = max(done, key=lambda r: r["sockets"])
    ours, peer = largest["dualcam"], largest.get("peer_websockets") or {}
    latency = ours.get("latency_from_announcement") or {}
    reached = max(r["dualcam"]["sockets_connected"] for r in done)
    return {
        "sockets_reached": reached,
        "at_sockets": largest["sockets"],
        "kib_per_socket": ours["kib_per_socket"],
        "server_cpu_ms_per_connect": ours["server_cpu_ms_per_connect"],
        "fanout_ms": latency,
        "phase_received": ours["phase_received"],
        "peer_kib_per_socket": peer.get("kib_per_socket"),
        "peer_fanout_ms": peer.get("latency_from_broadcast"),
        "targets": {"sockets": TARGET_SOCKETS, "p99_ms": TARGET_P99_MS},
        "met": {
            "sockets": reached >= TARGET_SOCKETS,
            "p99": largest["sockets"] >= TARGET_SOCKETS and latency.get("p99_ms") is not None and latency["p99_ms"] <= TARGET_P99_MS,
        },
    }


if __name__ == "__main__":
    main()
