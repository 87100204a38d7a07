"""tus upload throughput of our server beside the official Node server (@tus/server + @tus/file-store), same run,
same client, same machine; prints JSON.

    .venv/bin/python bench/upload_throughput.py [--uploads 8] [--size-mib 16] [--chunk-kib 1024] [--checksum]
                                                [--store s3://bucket?endpoint=…]   # ours on S3 instead of files

Both servers run as processes on free loopback ports: ours under uvicorn (TusApp mounted in a bare Starlette app,
SQLite, permissive callbacks), the peer under node (installed once with npm into var/bench/tus-node). The client is
httpx: `--uploads` concurrent uploads, each a POST then sequential PATCHes of `--chunk-kib` (a phone sends ~2 s of
video per PATCH), optionally with `Upload-Checksum: sha256`. Every stored file is compared with its source.

Not equal work: we fsync every PATCH and commit the offset to SQLite before answering (the durability rule); the
Node file store does neither. The numbers say what that costs.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
NODE_DIR = ROOT / "var" / "bench" / "tus-node"
NODE_PACKAGES = ["@tus/server@2", "@tus/file-store@2"]
NODE_SERVER = """
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";
import http from "node:http";
const tus = new Server({ path: "/files", datastore: new FileStore({ directory: process.env.DIR }) });
http.createServer((req, res) => tus.handle(req, res)).listen(Number(process.env.PORT), "127.0.0.1");
"""
MiB = 1024 * 1024


# --- our server, as a uvicorn factory ----------------------------------------------------------------------


def create_app() -> Any:
    """`uvicorn --factory bench.upload_throughput:create_app` (BENCH_DIR, BENCH_STORE)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.routing import Mount

    from app.adapters.upload_store import open_upload_store
    from app.clock import SystemClock
    from app.db import make_engine, make_sessionmaker
    from app.uploads import CreateDecision, Principal, SqlUploadState, TusApp, TusConfig, TusHooks
    from app.uploads.models import UploadRow

    directory = Path(os.environ["BENCH_DIR"])

    async def authorize(request: Request) -> Principal:
        return Principal(owner="bench")

    async def pre_create(principal: Principal, metadata: Mapping[str, str], length: int | None) -> CreateDecision:
        return CreateDecision()

    tus = TusApp(hooks=TusHooks(authorize=authorize, pre_create=pre_create), config=TusConfig(), clock=SystemClock())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_engine(f"sqlite+aiosqlite:///{directory / 'uploads.sqlite3'}")
        async with engine.begin() as conn:
            await conn.run_sync(UploadRow.metadata.create_all, tables=[UploadRow.__table__])
        store = open_upload_store(os.environ.get("BENCH_STORE") or f"file://{directory / 'objects'}")
        tus.attach(state=SqlUploadState(make_sessionmaker(engine)), store=store)
        yield
        await store.close()
        await engine.dispose()

    return Starlette(routes=[Mount("/files", app=tus)], lifespan=lifespan)


# --- processes -----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_node_server() -> Path:
    script = NODE_DIR / "server.mjs"
    if not (NODE_DIR / "node_modules" / "@tus" / "file-store").exists():
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        (NODE_DIR / "package.json").write_text('{"name": "tus-bench-peer", "private": true, "type": "module"}\n')
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", *NODE_PACKAGES], cwd=NODE_DIR, check=True)
    script.write_text(NODE_SERVER)
    return script


def node_peer_version() -> str:
    package = json.loads((NODE_DIR / "node_modules" / "@tus" / "server" / "package.json").read_text())
    return str(package["version"])


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}")
            try:
                await client.options(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise SystemExit(f"{url} not ready in 60 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# --- the client ------------------------------------------------------------------------------------------------


async def one_upload(
    client: httpx.AsyncClient, base: str, data: bytes, chunk: int, with_checksum: bool, latencies: list[float]
) -> str:
    head = {"Tus-Resumable": "1.0.0"}
    created = await client.post(base, headers={**head, "Upload-Length": str(len(data))})
    assert created.status_code == 201, created.text
    url = httpx.URL(base).join(created.headers["location"])
    offset = 0
    while offset < len(data):
        piece = data[offset : offset + chunk]
        headers = {**head, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)}
        if with_checksum:
            headers["Upload-Checksum"] = "sha256 " + base64.b64encode(hashlib.sha256(piece).digest()).decode()
        started = time.perf_counter()
        response = await client.patch(url, content=piece, headers=headers)
        latencies.append(time.perf_counter() - started)
        assert response.status_code == 204, response.text
        offset = int(response.headers["upload-offset"])
    return str(url).rsplit("/", 1)[1]


async def run_client(base: str, sources: list[bytes], chunk: int, with_checksum: bool) -> tuple[dict[str, Any], list[str]]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=len(sources) + 4)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        started = time.perf_counter()
        ids = await asyncio.gather(*(one_upload(client, base, data, chunk, with_checksum, latencies) for data in sources))
        elapsed = time.perf_counter() - started
    total = sum(len(d) for d in sources)
    ordered = sorted(latencies)
    return {
        "seconds": round(elapsed, 3),
        "mib_per_s": round(total / MiB / elapsed, 1),
        "patches": len(latencies),
        "patch_ms_p50": round(statistics.median(ordered) * 1000, 1),
        "patch_ms_p95": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1),
    }, list(ids)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    sources = [os.urandom(args.size_mib * MiB) for _ in range(args.uploads)]
    digests = [hashlib.sha256(d).hexdigest() for d in sources]
    chunk = args.chunk_kib * 1024
    result: dict[str, Any] = {
        "uploads": args.uploads,
        "size_mib": args.size_mib,
        "chunk_kib": args.chunk_kib,
        "checksum": args.checksum,
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="upload-bench-") as tmp:
        work = Path(tmp)
        # Ours.
        ours_dir = work / "ours"
        ours_dir.mkdir()
        port = free_port()
        env = {**os.environ, "BENCH_DIR": str(ours_dir), "BENCH_STORE": args.store or ""}
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "bench.upload_throughput:create_app", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning", "--no-access-log"],
            cwd=ROOT, env=env, start_new_session=True,
        )  # fmt: skip
        try:
            await wait_ready(f"http://127.0.0.1:{port}/files/", proc)
            ours, ids = await run_client(f"http://127.0.0.1:{port}/files/", sources, chunk, args.checksum)
        finally:
            stop(proc)
        if not args.store:
            stored = [hashlib.sha256((ours_dir / "objects" / "uploads" / i).read_bytes()).hexdigest() for i in ids]
            assert stored == digests, "ours: stored bytes differ from the sources"
        result["dualcam"] = {**ours, "store": (args.store or "file").split("?")[0], "fsync_per_patch": not args.store}

        # The peer.
        if shutil.which("node") is None or shutil.which("npm") is None:
            result["tus_node"] = {"skipped": "node/npm not installed"}
            return result
        script = ensure_node_server()
        peer_dir = work / "peer"
        peer_dir.mkdir()
        port = free_port()
        proc = subprocess.Popen(
            ["node", str(script)],
            cwd=NODE_DIR,
            env={**os.environ, "PORT": str(port), "DIR": str(peer_dir)},
            start_new_session=True,
        )
        try:
            await wait_ready(f"http://127.0.0.1:{port}/files", proc)
            peer, ids = await run_client(f"http://127.0.0.1:{port}/files", sources, chunk, args.checksum)
        finally:
            stop(proc)
        stored = [hashlib.sha256((peer_dir / i).read_bytes()).hexdigest() for i in ids]
        assert stored == digests, "peer: stored bytes differ from the sources"
        result["tus_node"] = {**peer, "version": node_peer_version(), "store": "@tus/file-store", "fsync_per_patch": False}
        result["throughput_ratio_ours_to_peer"] = round(ours["mib_per_s"] / peer["mib_per_s"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=16)
    parser.add_argument("--chunk-kib", type=int, default=1024)
    parser.add_argument("--checksum", action="store_true")
    parser.add_argument("--store", default=None, help="an s3:// URL for our server (default: local files)")
    print(json.dumps(asyncio.run(bench(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
