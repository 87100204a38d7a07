"""The servers bench/exam_day.py plays against: one `dualcam serve` on embedded defaults (`single`), or three
replicas on PostgreSQL + Redis + SeaweedFS (S3) behind haproxy (`replicas`), each started on loopback in a fresh
temporary directory and torn down after; plus a sampler of every server process's CPU and memory from /proc."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import secrets
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_status_kib(pid: int, key: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def proc_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process and of its children it waited for (analysis workers)."""
    with contextlib.suppress(OSError, IndexError, ValueError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK
    return None


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) over all cores since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class Process:
    """One server-side process the sampler watches; its last reading stays when it dies (kill -9)."""

    name: str
    proc: subprocess.Popen[bytes]
    cpu_seconds: float = 0.0
    peak_rss_kib: int = 0
    lives: int = 1
    cpu_of_past_lives: float = 0.0

    def sample(self) -> None:
        cpu = proc_cpu_seconds(self.proc.pid)
        if cpu is not None:
            self.cpu_seconds = cpu
        self.peak_rss_kib = max(self.peak_rss_kib, proc_status_kib(self.proc.pid, "VmHWM") or 0)

    def report(self) -> dict[str, Any]:
        return {"cpu_seconds": round(self.cpu_of_past_lives + self.cpu_seconds, 1), "peak_rss_mib": round(self.peak_rss_kib / 1024, 1), "lives": self.lives}


class Replica:
    """`dualcam serve` on a port of its own; start, kill -9 and start again."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.name, self.env, self.log_dir = name, env, log_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: Process | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        lives = self.process.lives + 1 if self.process else 1
        out = (self.log_dir / f"{self.name}-{lives}.log").open("wb")
        return subprocess.Popen([str(BIN / "dualcam"), "serve", "--host", "127.0.0.1", "--port", str(self.port)], env=self.env, stdout=out, stderr=subprocess.STDOUT)

    async def start(self) -> None:
        proc = self._spawn()
        if self.process is None:
            self.process = Process(self.name, proc)
        else:
            self.process.cpu_of_past_lives += self.process.cpu_seconds
            self.process.proc, self.process.cpu_seconds, self.process.lives = proc, 0.0, self.process.lives + 1
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
            for _ in range(600):
                if proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited {proc.returncode}: see {self.log_dir}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready in 120 s")

    async def scheduler_role(self) -> str | None:
        with contextlib.suppress(httpx.HTTPError):
            async with httpx.AsyncClient(base_url=self.url, timeout=2) as client:
                return str((await client.get("/readyz")).json()["checks"]["scheduler"])
        return None

    def kill(self) -> None:
        assert self.process is not None
        self.process.sample()
        self.process.proc.kill()
        self.process.proc.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.proc.poll() is None:
            self.process.proc.terminate()
            try:
                self.process.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.process.proc.kill()
                self.process.proc.wait()


HAPROXY_CONFIG = ROOT / "deploy" / "haproxy.cfg"  # the configuration docs/deploy.md describes, run as it is


@dataclass
class Topology:
    """What exam_day.py needs of a topology: the public URL, the CLI, the replicas (one for `single`), the sampler."""

    kind: str
    url: str
    env: dict[str, str]
    replicas: list[Replica]
    watched: list[Process] = field(default_factory=list)
    stack: ExitStack = field(default_factory=ExitStack)

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(BIN / "dualcam"), *args], env=self.env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"dualcam {' '.join(args)}: {done.returncode} {done.stderr[-2000:]}")
        return done.stdout

    def processes(self) -> list[Process]:
        return [r.process for r in self.replicas if r.process is not None] + self.watched

    async def sample_forever(self) -> None:
        while True:
            for process in self.processes():
                process.sample()
            await asyncio.sleep(1)

    def logs(self) -> str:
        directory = Path(self.env["DUALCAM_DATA_DIR"]) / "logs"
        return "\n".join(p.read_text(errors="replace") for p in sorted(directory.glob("*.log")))

    def close(self) -> None:
        for replica in self.replicas:
            replica.stop()
        self.stack.close()


def _base_env(data_dir: Path, url: str) -> dict[str, str]:
    env = {
        **os.environ, "DUALCAM_DATA_DIR": str(data_dir), "DUALCAM_FACE_MODEL_DIR": str(ROOT / "var" / "models"),
        "DUALCAM_SECRET_KEY": secrets.token_urlsafe(40), "DUALCAM_PUBLIC_BASE_URL": url,
    }  # fmt: skip
    for key in ("DUALCAM_CLOCK_FILE", "DUALCAM_DATABASE_URL", "DUALCAM_STORAGE_URL", "DUALCAM_REDIS_URL"):
        env.pop(key, None)
    return env


async def single(tmp: Path) -> Topology:
    (tmp / "logs").mkdir()
    replica = Replica("serve", {}, tmp / "logs")
    topology = Topology("single", replica.url, _base_env(tmp, replica.url), [replica])
    replica.env = topology.env
    topology.cli("migrate")
    await replica.start()
    return topology


async def replicas(tmp: Path) -> Topology:
    """PostgreSQL (a database made for the run, dropped after), Redis, SeaweedFS from the wheel, haproxy, three
    replicas that share the secret key and all run the scheduler (one leads, by PostgreSQL's advisory lock)."""
    sys.path.insert(0, str(ROOT))
    from tests.support.seaweed import running_seaweed
    from tests.uploads.flows import create_bucket

    (tmp / "logs").mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    topology = Topology("replicas", url, _base_env(tmp, url), [])
    try:
        seaweed = topology.stack.enter_context(running_seaweed(tmp / "seaweed"))
        await create_bucket(seaweed, "dualcam")
        database = f"exam_day_{secrets.token_hex(4)}"
        subprocess.run(["psql", PG_ADMIN, "-qc", f"CREATE DATABASE {database}"], check=True, capture_output=True)
        topology.stack.callback(subprocess.run, ["psql", PG_ADMIN, "-qc", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"], capture_output=True)
        topology.env.update({
            "DUALCAM_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}",
            "DUALCAM_STORAGE_URL": seaweed.url("dualcam"), "DUALCAM_REDIS_URL": REDIS_URL, "DUALCAM_FORWARDED_ALLOW_IPS": "127.0.0.1",
        })  # fmt: skip
        topology.cli("migrate")
        topology.replicas = [Replica(f"replica-{i + 1}", topology.env, tmp / "logs") for i in range(3)]  # the three of deploy/haproxy.cfg
        await asyncio.gather(*(r.start() for r in topology.replicas))
        lb_env = {
            **os.environ, "DUALCAM_LB_BIND": f"127.0.0.1:{port}",
            # haproxy refuses to start with more connections than half its file descriptors allow
            "DUALCAM_LB_MAXCONN": str(max(256, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 2 - 100)),
            **{f"DUALCAM_REPLICA_{i + 1}": f"127.0.0.1:{r.port}" for i, r in enumerate(topology.replicas)},
        }  # fmt: skip
        haproxy = subprocess.Popen(["haproxy", "-db", "-f", str(HAPROXY_CONFIG)], env=lb_env, stdout=(tmp / "logs" / "haproxy.log").open("wb"), stderr=subprocess.STDOUT)
        topology.stack.callback(lambda: (haproxy.terminate(), haproxy.wait(10)))
        topology.watched.append(Process("haproxy", haproxy))
        async with httpx.AsyncClient(base_url=url, timeout=2) as client:
            for _ in range(100):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return topology
                await asyncio.sleep(0.1)
        raise RuntimeError("haproxy not answering in 10 s")
    except BaseException:
        topology.close()
        raise


async def leader(topology: Topology) -> Replica | None:
    roles = await asyncio.gather(*(r.scheduler_role() for r in topology.replicas))
    return next((r for r, role in zip(topology.replicas, roles, strict=True) if role == "leader"), None)


async def kill_and_restart(topology: Topology, *, at: float, restart_after: float, which: str, log: Any) -> dict[str, Any]:
    """At epoch `at`, kill -9 one replica (the scheduler's leader, or another); time until another leads; start it
    again `restart_after` seconds later and check that it serves through the load balancer."""
    await asyncio.sleep(max(0.0, at - time.time()))
    lead = await leader(topology)
    for _ in range(30):  # an overloaded replica may not answer /readyz at once: ask again for a while
        if lead is not None:
            break
        await asyncio.sleep(1)
        lead = await leader(topology)
    if lead is None:
        log("no replica says it leads: killing", topology.replicas[0].name)
    victim = (lead or topology.replicas[0]) if which == "leader" else next(r for r in topology.replicas if r is not lead)
    log("kill -9", victim.name, "(leader)" if victim is lead else "")
    killed_at = time.time()
    victim.kill()
    took_over: float | None = None
    while time.time() < killed_at + restart_after:
        if took_over is None and victim is lead and (await leader(topology)) not in (None, victim):
            took_over = time.time() - killed_at
        await asyncio.sleep(0.25)
    await victim.start()
    log("restarted", victim.name, "ready in", round(time.time() - killed_at - restart_after, 1), "s")
    return {"killed": victim.name, "was_leader": victim is lead, "killed_at": killed_at, "leader_after_s": round(took_over, 2) if took_over else None,
            "restarted_after_s": restart_after, "replica": victim}  # fmt: skip
