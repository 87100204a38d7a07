"""Throughput of the waiting-room face gate through the API, beside the engine called directly, in one run (JSON).

    .venv/bin/python bench/face_gate_throughput.py [--concurrency 16] [--seconds 8] [--model-dir DIR]

The API side is the real app (create_app, its lifespan, SQLite migrated to head, the local object store with fsync)
driven by httpx over `httpx.ASGITransport`, in this process: no sockets and no uvicorn, so it measures what a gate
request costs (auth, multipart, rules, inference, the capture's write, the FaceCheck row, the commit), not HTTP
parsing. Each of the `concurrency` workers is one candidate's main phone posting a 640×480 JPEG of the enrolled person
in a loop (the per-phone 1 s rate limit is set to 0 here; everything else is as served). The peer is the app's own
AsyncFaceEngine (`app.state.face`: same pack, same thread pool) asked to verify the same bytes against the same
reference by as many concurrent callers. Both also run with a single caller, for latency without queueing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402

from app.clock import FakeClock  # noqa: E402
from app.config import Settings  # noqa: E402
from app.db import transaction  # noqa: E402
from app.logs import configure_logging  # noqa: E402
from app.main import create_app  # noqa: E402
from app.models import StaffRole  # noqa: E402
from app.services.audit import Actor  # noqa: E402
from app.services.auth import create_staff  # noqa: E402

FACES = ROOT / "tests" / "data" / "faces"
PASSWORD = "Passw0rd-bench"
T0 = datetime(2026, 6, 1, tzinfo=UTC)
OPENS = T0 + timedelta(hours=1)


def capture_640x480(name: str) -> bytes:
    """A phone-sized capture: the photo scaled to 480 px high on a grey 640×480 frame, JPEG quality 85."""
    photo = Image.open(FACES / f"{name}.jpg").convert("RGB")
    photo = photo.resize((round(photo.width * 480 / photo.height), 480))
    frame = Image.new("RGB", (640, 480), (128, 128, 128))
    frame.paste(photo, ((640 - photo.width) // 2, 0))
    buffer = io.BytesIO()
    frame.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def id_number(seq: int) -> str:
    body = f"370102199001{seq:05d}"[:17]
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


async def ok(client: httpx.AsyncClient, method: str, url: str, token: str | None = None, status: int = 200, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.request(method, url, headers=headers, **kwargs)
    if response.status_code != status:
        raise RuntimeError(f"{method} {url}: {response.status_code} {response.text}")
    return response.json()


async def seed(app: Any, client: httpx.AsyncClient, clock: FakeClock, phones: int) -> list[str]:
    """An exam, a formal session, `phones` identity-verified candidates with a main phone each: their tokens."""
    async with transaction(app.state.sessionmaker) as db:
        await create_staff(db, username="bench-ops", display_name="bench", role=StaffRole.ops, password=PASSWORD, now=clock.now(), actor=Actor("system", "bench"))
    ops = (await ok(client, "POST", "/api/v1/auth/staff/login", json={"username": "bench-ops", "password": PASSWORD}))["token"]
    exam = await ok(client, "POST", "/api/v1/ops/exams", ops, status=201, json={
        "title": "bench", "organizer": "bench", "province": "山东", "identity_category": "其他",
        "confirm_opens_at": T0.isoformat(), "confirm_closes_at": (T0 + timedelta(days=30)).isoformat(),
    })  # fmt: skip
    session = await ok(client, "POST", f"/api/v1/ops/exams/{exam['id']}/sessions", ops, status=201, json={
        "kind": "formal", "title": "bench", "waiting_opens_at": OPENS.isoformat(),
        "answer_starts_at": (OPENS + timedelta(hours=1)).isoformat(), "answer_ends_at": (OPENS + timedelta(hours=2)).isoformat(),
        "upload_deadline": (OPENS + timedelta(hours=3)).isoformat(),
    })  # fmt: skip
    rows = "".join(f"考生{n},{id_number(n)},139{n:08d},a.jpg\n" for n in range(1, phones + 1))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a.jpg", (FACES / "person_a_1.jpg").read_bytes())
    files = {"csv_file": ("roster.csv", f"姓名,身份证号,手机号,照片\n{rows}".encode(), "text/csv"), "photos": ("p.zip", archive.getvalue(), "application/zip")}
    imported = (await ok(client, "POST", f"/api/v1/ops/exams/{exam['id']}/roster", ops, status=201, files=files))["imported"]
    selfie = {"image": ("selfie.jpg", capture_640x480("person_a_2"), "image/jpeg")}
    tokens = []
    for n, row in enumerate(imported, start=1):
        candidate = (await ok(client, "POST", "/api/v1/auth/candidate/login", json={"identifier": id_number(n), "secret": row["access_code"]}))["token"]
        assert (await ok(client, "POST", "/api/v1/candidate/identity/selfie", candidate, files=selfie))["passed"]
        await ok(client, "POST", "/api/v1/candidate/confirmation", candidate, json={"identity_category": "其他", "province": "山东", "accept_rules": True})
        sessions = await ok(client, "GET", "/api/v1/candidate/sessions", candidate)
        sitting = next(s for s in sessions if s["id"] == session["id"])["sitting"]
        device = await ok(client, "POST", f"/api/v1/candidate/sittings/{sitting['id']}/devices", candidate, status=201, json={"role": "main"})
        tokens.append(device["token"])
    clock.set(OPENS + timedelta(minutes=1))
    return tokens


def summary(latencies: list[float], elapsed: float, statuses: Counter[int | str]) -> dict[str, Any]:
    ordered = sorted(latencies)
    done = statuses.get(200, 0)
    return {
        "checks": done,
        "checks_per_s": round(done / elapsed, 2),
        "p50_ms": round(statistics.median(ordered) * 1000, 1) if ordered else None,
        "p95_ms": round(float(np.percentile(ordered, 95)) * 1000, 1) if ordered else None,
        "seconds": round(elapsed, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
    }


async def drive(callers: int, seconds: float, call: Any) -> dict[str, Any]:
    """`callers` concurrent loops of `call(i)` for `seconds`; call returns a status (200 = a completed check)."""
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()
    deadline = time.perf_counter() + seconds

    async def loop(i: int) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status = await call(i)
            statuses[status] += 1
            if status == 200:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(callers)))
    return summary(latencies, time.perf_counter() - started, statuses)


def migrate(data_dir: Path) -> str:
    """A fresh SQLite database at head (Alembic runs its own event loop: before ours starts)."""
    url = f"sqlite+aiosqlite:///{data_dir / 'bench.sqlite3'}"
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes.update(database_url=url, configure_logging=False)
    command.upgrade(config, "head")
    return url


async def run(data_dir: Path, url: str, concurrency: int, seconds: float, model_dir: Path | None) -> dict[str, Any]:
    configure_logging(json_lines=True, level=40)  # errors only: the bench prints one JSON document
    settings = Settings(
        env="test", data_dir=data_dir, database_url=url, scheduler_enabled=False, log_json=True,
        face_model_dir=model_dir or Settings().resolved_face_model_dir, face_min_interval_seconds=0,
        face_max_pending=max(16, concurrency), argon2_time_cost=1, argon2_memory_kib=1024,
    )  # fmt: skip
    clock = FakeClock(T0)
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        if app.state.face is None:
            return {"error": {"code": "face_models_missing", "model_dir": str(settings.resolved_face_model_dir)}}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as client:
            tokens = await seed(app, client, clock, concurrency)
            probe = capture_640x480("person_a_2")
            files = {"image": ("capture.jpg", probe, "image/jpeg")}

            async def api_call(i: int) -> int | str:
                response = await client.post("/api/v1/device/face", headers={"Authorization": f"Bearer {tokens[i]}"}, files=files)
                if response.status_code == 200 and not response.json()["passed"]:
                    return "200_not_passed"
                return response.status_code

            engine = app.state.face
            reference = (await engine.enroll((FACES / "person_a_1.jpg").read_bytes())).embedding

            async def engine_call(i: int) -> int | str:
                result = await engine.verify(probe, reference)
                return 200 if result.match and not result.findings else "not_passed"

            for _ in range(3):  # warm-up of both paths
                await api_call(0)
                await engine_call(0)
            results = {
                "api_1": await drive(1, seconds, api_call),
                "engine_1": await drive(1, seconds, engine_call),
                f"api_{concurrency}": await drive(concurrency, seconds, api_call),
                f"engine_{concurrency}": await drive(concurrency, seconds, engine_call),
            }
        import cv2
        import onnxruntime

        api_rate, engine_rate = results[f"api_{concurrency}"]["checks_per_s"], results[f"engine_{concurrency}"]["checks_per_s"]
        return {
            "bench": "face_gate_throughput",
            "transport": "httpx.ASGITransport: the ASGI app in this process (no sockets, no uvicorn)",
            "endpoint": "POST /api/v1/device/face",
            "database": "sqlite (aiosqlite, WAL), migrated to head",
            "object_store": "local files (fsync per capture)",
            "image": {"width": 640, "height": 480, "bytes": len(probe), "source": "tests/data/faces/person_a_2.jpg vs person_a_1.jpg"},
            "pack": settings.face_pack,
            "concurrency": concurrency,
            "seconds_per_run": seconds,
            "results": results,
            "api_share_of_engine_throughput": round(api_rate / engine_rate, 3) if engine_rate else None,
            "cpu_count": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
            "versions": {"python": platform.python_version(), "onnxruntime": onnxruntime.__version__, "opencv": cv2.__version__},
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each timed run")
    parser.add_argument("--model-dir", type=Path, default=None, help="default: the server's (DUALCAM_FACE_MODEL_DIR or DATA_DIR/models)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dualcam-bench-") as tmp:
        url = migrate(Path(tmp))
        report = asyncio.run(run(Path(tmp), url, args.concurrency, args.seconds, args.model_dir))
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
