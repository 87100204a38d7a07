"""tus upload throughput: our server beside the official Node server (@tus/server + @tus/file-store) and a raw
limit (a minimal socket sink writing to the same disk), same run, same client, same machine; prints one JSON
document.

    .venv/bin/python bench/upload_throughput.py [--uploads 8] [--size-mib 150] [--chunk-kib 2048] [--checksum]
                                                [--repeat 1] [--store s3://bucket?endpoint=…]   # ours on S3
                                                [--baseline-root DIR]   # also run our server from another checkout

The default workload: 8 phones each uploading a 10-minute 720p recording (~150 MB) in 2 MiB PATCHes.
Every server runs as its own process on a free loopback port:

- `dualcam`: ours under uvicorn (TusApp mounted in a bare Starlette app, SQLite, permissive callbacks);
- `tus_node`: @tus/server + @tus/file-store under node (installed once with npm into var/bench/tus-node);
- `raw_sink`: the least a server can do to acknowledge a byte durably — a thread per connection parses the request
  head, reads the body into one buffer, `pwrite`s it at the offset, `fdatasync`s and answers 204. No database, no
  hashing, no protocol checks: the ceiling for this client, loopback and disk (`raw_sink_nosync`, on request: the
  same without the fdatasync, what the Node file store's durability amounts to);
- `dualcam_baseline` (with `--baseline-root`): ours from another checkout (e.g. `git archive` of an older commit),
  to compare a change in the same run.

The client is httpx: `--uploads` concurrent uploads, each a POST then sequential PATCHes of `--chunk-kib` (a phone
sends ~2 s of video per PATCH), optionally with `Upload-Checksum: sha256`. Before measuring, each server gets one
tiny upload (imports, caches), then its resident memory is read (`rss_baseline_mib`); `rss_peak_mib` is the
process's high-water mark (VmHWM) after the run; `cpu_s` its user+system CPU time. Every stored file is compared
with its source, and ours must have recorded each upload's sha256.

Not equal work: we fdatasync every PATCH, commit the offset to SQLite and hash every byte (the per-PATCH hash chain
and the upload's sha256) before answering; the Node file store does none of that; the raw sink only fdatasyncs.
With `--repeat N` the peers run N rounds in rotating order; each figure is the median of its rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import itertools
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
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

    from app.adapters.factory import open_upload_store
    from app.clock import SystemClock
    from app.db import make_engine, make_sessionmaker
    from app.uploads import CreateDecision, Caller, SqlUploadState, TusApp, TusConfig, TusHooks
    from app.uploads.models import UploadRow

    directory = Path(os.environ["BENCH_DIR"])

    async def authorize(request: Request) -> Caller:
        return Caller(owner="bench")

    async def pre_create(principal: Caller, metadata: Mapping[str, str], length: int | None) -> CreateDecision:
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


# --- the raw sink ------------------------------------------------------------------------------------------------


def serve_raw_sink(port: int, directory: Path, sync: bool = True) -> None:
    """A minimal tus-shaped HTTP/1.1 sink: POST → 201 + Location, PATCH → pwrite (+ fdatasync) → 204, else 204."""
    names = itertools.count(1)
    listener = socket.create_server(("127.0.0.1", port), backlog=128)

    def reply(conn: socket.socket, status: str, headers: dict[str, str]) -> None:
        head = [f"HTTP/1.1 {status}", "Tus-Resumable: 1.0.0", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
        conn.sendall("\r\n".join(head).encode())

    def handle(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = conn.makefile("rb", buffering=64 * 1024)
        buffer = bytearray()
        with conn, reader:
            while line := reader.readline():
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (raw := reader.readline()) not in (b"\r\n", b"\n", b""):
                    key, _, value = raw.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = value.strip()
                size = int(headers.get("content-length", "0"))
                if len(buffer) < size:
                    buffer = bytearray(size)
                body = memoryview(buffer)[:size]
                got = 0
                while got < size:
                    n = reader.readinto(body[got:])
                    if not n:
                        return
                    got += n
                if method == "POST":
                    name = str(next(names))
                    fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
                    os.fsync(fd)
                    os.close(fd)
                    reply(conn, "201 Created", {"Location": f"/files/{name}", "Upload-Offset": "0", "Content-Length": "0"})
                elif method == "PATCH":
                    offset = int(headers["upload-offset"])
                    fd = os.open(directory / target.rsplit("/", 1)[1], os.O_WRONLY)
                    try:
                        written = 0
                        while written < size:
                            written += os.pwrite(fd, body[written:], offset + written)
                        if sync:
                            os.fdatasync(fd)
                    finally:
                        os.close(fd)
                    reply(conn, "204 No Content", {"Upload-Offset": str(offset + size)})
                else:
                    reply(conn, "204 No Content", {})

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


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
            proc.wait()


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (the peak resident set since the process started), MiB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = round(int(value.split()[0]) / 1024, 1)
    return values


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, all threads


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


# --- peers -----------------------------------------------------------------------------------------------------


@dataclass
class Peer:
    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str]
    path: str  # the creation URL's path
    stored: Callable[[Path, str], Path]  # (work dir, upload id) → the stored file
    info: dict[str, Any]
    recorded_sha256: Callable[[Path], dict[str, str]] | None = None  # upload id → sha256 the server recorded


def ours(name: str, root: Path, store: str | None) -> Peer:
    return Peer(
        name=name,
        command=[sys.executable, "-m", "uvicorn", "--factory", "bench.upload_throughput:create_app", "--host",
                 "127.0.0.1", "--port", "{port}", "--log-level", "warning", "--no-access-log"],
        cwd=root,
        env={"BENCH_DIR": "{dir}", "BENCH_STORE": store or ""},
        path="/files/",
        stored=lambda work, upload_id: work / "objects" / "uploads" / upload_id,
        info={"store": (store or "file").split("?")[0], "durable_per_patch": True, "root": str(root)},
        recorded_sha256=None if store else _recorded_sha256,
    )  # fmt: skip


def _recorded_sha256(work: Path) -> dict[str, str]:
    with sqlite3.connect(work / "uploads.sqlite3") as db:
        return {row[0]: row[1] for row in db.execute("SELECT id, sha256 FROM tus_uploads WHERE finished_at IS NOT NULL")}


def tus_node() -> Peer:
    script = ensure_node_server()
    return Peer(
        name="tus_node",
        command=["node", str(script)],
        cwd=NODE_DIR,
        env={"PORT": "{port}", "DIR": "{dir}"},
        path="/files",
        stored=lambda work, upload_id: work / upload_id,
        info={"version": node_peer_version(), "store": "@tus/file-store", "durable_per_patch": False},
    )


def raw_sink(sync: bool = True) -> Peer:
    return Peer(
        name="raw_sink" if sync else "raw_sink_nosync",
        command=[sys.executable, str(Path(__file__).resolve()), "--serve-raw-sink", "{port}", "{dir}", "sync" if sync else "nosync"],
        cwd=ROOT,
        env={},
        path="/files/",
        stored=lambda work, upload_id: work / upload_id,
        info={"store": "pwrite + fdatasync per PATCH" if sync else "pwrite per PATCH", "durable_per_patch": sync},
    )


async def run_peer(peer: Peer, work: Path, sources: list[bytes], digests: list[str], args: argparse.Namespace) -> dict[str, Any]:
    directory = work / peer.name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    port = free_port()

    def fill(value: str) -> str:
        return value.replace("{port}", str(port)).replace("{dir}", str(directory))

    proc = subprocess.Popen(
        [fill(part) for part in peer.command],
        cwd=peer.cwd,
        env={**os.environ, **{k: fill(v) for k, v in peer.env.items()}},
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}{peer.path}"
    try:
        await wait_ready(base, proc)
        await run_client(base, [b"warm-up"], 1024, args.checksum)
        memory, cpu = memory_mib(proc.pid), cpu_seconds(proc.pid)
        measured, ids = await run_client(base, sources, args.chunk_kib * 1024, args.checksum)
        peak, cpu = memory_mib(proc.pid), cpu_seconds(proc.pid) - cpu
    finally:
        stop(proc)
    for upload_id, digest in zip(ids, digests, strict=True):
        path = peer.stored(directory, upload_id)
        with path.open("rb") as handle:
            assert hashlib.file_digest(handle, "sha256").hexdigest() == digest, f"{peer.name}: {path} differs from its source"
    if peer.recorded_sha256 is not None:
        recorded = peer.recorded_sha256(directory)
        assert [recorded.get(i) for i in ids] == digests, f"{peer.name}: recorded sha256 differs from the sources"
    shutil.rmtree(directory, ignore_errors=True)
    return {
        **measured,
        "cpu_s": round(cpu, 2),
        "rss_baseline_mib": memory["VmRSS"],
        "rss_peak_mib": peak["VmHWM"],
        "rss_growth_mib": round(peak["VmHWM"] - memory["VmRSS"], 1),
    }


def median_of(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    if len(rounds) == 1:
        return rounds[0]
    return {key: round(statistics.median(r[key] for r in rounds), 3 if key == "seconds" else 1) for key in rounds[0]}


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    sources = [os.urandom(args.size_mib * MiB) for _ in range(args.uploads)]
    digests = [hashlib.sha256(d).hexdigest() for d in sources]
    wanted = set(args.peers.split(","))
    peers = [ours("dualcam", ROOT, args.store)]
    if args.baseline_root:
        peers.append(ours("dualcam_baseline", Path(args.baseline_root).resolve(), args.store))
    if "tus_node" in wanted and shutil.which("node") and shutil.which("npm"):
        peers.append(tus_node())
    if "raw_sink" in wanted:
        peers.append(raw_sink())
    if "raw_sink_nosync" in wanted:
        peers.append(raw_sink(sync=False))
    result: dict[str, Any] = {
        "uploads": args.uploads,
        "size_mib": args.size_mib,
        "chunk_kib": args.chunk_kib,
        "checksum": args.checksum,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    rounds: dict[str, list[dict[str, Any]]] = {peer.name: [] for peer in peers}
    with tempfile.TemporaryDirectory(prefix="upload-bench-") as tmp:
        for turn in range(args.repeat):
            for peer in peers[turn % len(peers) :] + peers[: turn % len(peers)]:
                rounds[peer.name].append(await run_peer(peer, Path(tmp), sources, digests, args))
    for peer in peers:
        result[peer.name] = {**median_of(rounds[peer.name]), **peer.info}
        if args.repeat > 1:
            result[peer.name]["rounds_mib_per_s"] = [r["mib_per_s"] for r in rounds[peer.name]]
    if "tus_node" in wanted and "tus_node" not in result:
        result["tus_node"] = {"skipped": "node/npm not installed"}
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    ours_rate = result["dualcam"]["mib_per_s"]
    ratios = {}
    for peer in ("tus_node", "raw_sink", "raw_sink_nosync", "dualcam_baseline"):
        if "mib_per_s" in result.get(peer, {}):
            ratios[f"dualcam_to_{peer}"] = round(ours_rate / result[peer]["mib_per_s"], 2)
    result["ratios"] = ratios
    chunk_mib = args.chunk_kib / 1024
    result["memory"] = {
        "dualcam_rss_peak_mib": result["dualcam"]["rss_peak_mib"],
        "dualcam_rss_growth_mib": result["dualcam"]["rss_growth_mib"],
        "dualcam_growth_per_upload_in_chunks": round(result["dualcam"]["rss_growth_mib"] / args.uploads / chunk_mib, 2),
    }
    return result


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--serve-raw-sink":
        serve_raw_sink(int(sys.argv[2]), Path(sys.argv[3]), sync=sys.argv[4] == "sync")
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=8)
    parser.add_argument("--size-mib", type=int, default=150)
    parser.add_argument("--chunk-kib", type=int, default=2048)
    parser.add_argument("--checksum", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, peers in rotating order; medians reported")
    parser.add_argument("--store", default=None, help="an s3:// URL for our server (default: local files)")
    parser.add_argument("--baseline-root", default=None, help="also run our server from this checkout (dualcam_baseline)")
    parser.add_argument(
        "--peers", default="tus_node,raw_sink", help="beside ours, comma-separated: tus_node, raw_sink, raw_sink_nosync ('' for none)"
    )
    print(json.dumps(asyncio.run(bench(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
