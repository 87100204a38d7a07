"""The secret key in real processes: `dualcam serve` processes started together on one data dir without
DUALCAM_SECRET_KEY generate one key between them (an access code issued through one logs in on the other, and
after a restart); production refuses to start without a strong explicit key, in one line."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import stat
import subprocess
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.clock import FakeClock
from app.config import Settings
from app.secret_key import PUBLIC_DEFAULT
from tests.support.api import Api, id_number, phone
from tests.support.processes import ROOT, T0, Servers, child_env, dualcam_command, free_port, run_cli

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def log_in(url: str, seq: int, code: str) -> int:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.post("/api/v1/auth/candidate/login", json={"identifier": id_number(seq), "secret": code})
    return response.status_code


async def test_servers_started_together_share_one_generated_key_that_a_restart_keeps(tmp_path: Path, servers: Servers) -> None:
    data_dir = tmp_path / "var"
    # Development (the default), and no key: FAST's test key is blanked out.
    env = {"DUALCAM_ENV": "development", "DUALCAM_SECRET_KEY": "", "DUALCAM_DATA_DIR": str(data_dir)}
    run_cli(["migrate"], env)
    assert not (data_dir / "secret_key").exists()  # migrating needs no key
    a, b = servers.add("a", env), servers.add("b", env)
    await asyncio.gather(a.start(), b.start())

    key_file = data_dir / "secret_key"
    key = key_file.read_text(encoding="utf-8").strip()
    assert len(key) == 64 and key != PUBLIC_DEFAULT
    assert mode(key_file) == 0o600 and mode(data_dir) == 0o700
    warnings = [e for s in (a, b) for e in s.events("config.secret_key.generated", run=len(s.logs))]
    assert [(e["level"], e["path"]) for e in warnings] == [("warning", str(key_file))] * 2
    assert sorted(e["created"] for e in warnings) == [False, True]  # one of the two wrote it, the other read it

    created = run_cli(["staff", "create", "ops-key"], env)  # a third process on the data dir: the same key
    password = next(line.split(": ", 1)[1] for line in created.splitlines() if line.startswith("password: "))
    async with httpx.AsyncClient(base_url=a.url, timeout=10) as http:
        api = Api(client=http, app=None, clock=FakeClock(T0))  # type: ignore[arg-type]
        ops = (await api.ok("POST", "/api/v1/auth/staff/login", json={"username": "ops-key", "password": password}))["token"]
        exam = await api.exam(ops)
        (row,) = await api.roster(ops, exam["id"], [("张三", id_number(1), phone(1))])
    assert await log_in(b.url, 1, row["access_code"]) == 200

    a.kill()
    b.kill()
    await a.start()
    assert await log_in(a.url, 1, row["access_code"]) == 200
    assert [e["created"] for e in a.events("config.secret_key.generated", run=len(a.logs))] == [False]
    assert key_file.read_text(encoding="utf-8").strip() == key


def _first_start(data_dir: Path, barrier: Barrier, results: Any) -> None:
    settings = Settings(env="development", data_dir=data_dir, secret_key="")
    barrier.wait()
    key_file = settings.ensure_secret_key()
    assert key_file is not None
    results.put((settings.secret_key, key_file.created))


def test_concurrent_first_starts_agree_on_one_key_and_installs_differ(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")  # spawn would re-import this module in each worker (seconds)
    keys = []
    for install in ("one", "two"):
        barrier, results = context.Barrier(8), context.Queue()
        workers = [context.Process(target=_first_start, args=(tmp_path / install, barrier, results)) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
        found = [results.get(timeout=5) for _ in workers]
        assert len({k for k, _ in found}) == 1 and sorted(c for _, c in found) == [False] * 7 + [True]
        assert mode(tmp_path / install / "secret_key") == 0o600
        keys.append(found[0][0])
    assert keys[0] != keys[1]


@pytest.mark.parametrize(
    ("key", "code"),
    [
        pytest.param("", "secret_key_missing", id="missing"),
        pytest.param("a", "secret_key_weak", id="short"),
        pytest.param("a" * 64, "secret_key_weak", id="one-character"),
        pytest.param(PUBLIC_DEFAULT, "secret_key_public", id="old-default"),
    ],
)
def test_production_refuses_to_serve_without_a_strong_key_in_one_line(tmp_path: Path, key: str, code: str) -> None:
    env = child_env({"DUALCAM_ENV": "production", "DUALCAM_SECRET_KEY": key, "DUALCAM_DATA_DIR": str(tmp_path / "var")})
    done = subprocess.run(
        [*dualcam_command(), "serve", "--port", str(free_port())], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    error = json.loads(line)["error"]
    assert error["code"] == code and "DUALCAM_SECRET_KEY" in error["message"] and "DUALCAM_SECRET_KEY" in error["message_en"]
    assert not (tmp_path / "var" / "secret_key").exists()  # production never falls back to a generated key


def test_production_takes_a_strong_key_from_the_environment_and_writes_no_key_file(tmp_path: Path) -> None:
    env = {"DUALCAM_ENV": "production", "DUALCAM_SECRET_KEY": "k3Y-" + "x7Qp9Zr2Lm5Vb8Nc4Ht6Jw1Ds0Fg" * 2, "DUALCAM_DATA_DIR": str(tmp_path / "var")}
    run_cli(["migrate"], env)
    assert json.loads(run_cli(["exam", "list", "--json"], env)) == []
    assert not (tmp_path / "var" / "secret_key").exists()
