"""Interop with the official JavaScript client: tus-js-client 4.3.1 from npm, its browser bundle unmodified, in Chromium
(Playwright), against a real uvicorn process serving the tus endpoint, the page and the bundle from one origin.

- a deferred-length upload fed by a recorder-like stream (pieces of uneven size over time), which tus-js-client ends
  with an empty PATCH carrying `Upload-Length` and no Content-Length;
- a File uploaded in chunks, plain and with creation-with-upload;
- a page reloaded while a PATCH is in flight, resumed with the URL tus-js-client kept in localStorage.

The source bytes are made in the page from a seed; the test computes the same bytes with numpy and compares them
with the stored file. npm or chromium missing: skipped locally, a failure when CI is set.

Playwright's sync API runs in a thread of its own here: it leaves an asyncio loop marked running in the thread that
uses it, which would break the anyio tests after it and a second sync_playwright (tests/e2e's browser) in the same
thread. The module is still marked e2e, so tests/conftest.py sorts it with the browser tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import pytest

from tests.e2e.support import CHROMIUM, CHROMIUM_FLAGS  # the same browser and flags as the phone-app tests

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
MOUNT = "/api/v1/uploads"
TUS_JS_VERSION = "4.3.1"
NPM_DIR = ROOT / "var" / "npm" / "tus-js-client"
KiB = 1024
MiB = 1024 * KiB
HEAD = {"Tus-Resumable": "1.0.0", "Authorization": "Bearer phone-1"}
T = TypeVar("T")


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the tus-js-client interop tests")
    pytest.skip(reason)


def seeded_bytes(seed: int, size: int) -> bytes:
    """The page's source bytes (harness.js `seededBytes`): little-endian words fmix32(seed + j * 0x9e3779b9)."""
    h = np.arange((size + 3) // 4, dtype=np.uint32) * np.uint32(0x9E3779B9) + np.uint32(seed)
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h.astype("<u4").tobytes()[:size]


def assert_same_bytes(stored: bytes, expected: bytes) -> None:
    if stored != expected:
        first = next((i for i, (a, b) in enumerate(zip(stored, expected, strict=False)) if a != b), min(len(stored), len(expected)))
        raise AssertionError(f"stored {len(stored)} bytes, expected {len(expected)}; first difference at byte {first}")


# --- tus-js-client from npm ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tus_js_dist() -> Path:
    """tus-js-client's dist/ folder, installed once into var/npm/tus-js-client (ignored by git)."""
    dist = NPM_DIR / "node_modules" / "tus-js-client" / "dist"

    def installed() -> bool:
        try:
            version = json.loads((dist.parent / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            return False
        return bool(version == TUS_JS_VERSION and (dist / "tus.min.js").is_file())

    if installed():
        return dist
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm not found (apt-get install -y npm, or Node.js 18+)")
    # Install beside the target and rename: another test run installing at the same time cannot see half a tree.
    NPM_DIR.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="tus-js-client.", dir=NPM_DIR.parent))
    try:
        done = subprocess.run(
            [str(npm), "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(staging), f"tus-js-client@{TUS_JS_VERSION}"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            unavailable(f"npm install tus-js-client@{TUS_JS_VERSION} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        if NPM_DIR.exists() and not installed():
            shutil.rmtree(NPM_DIR)  # another version, or a broken install
        if not NPM_DIR.exists():
            try:
                staging.rename(NPM_DIR)
            except OSError:
                pass  # a concurrent run got there first
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    assert installed(), f"tus-js-client {TUS_JS_VERSION} not found under {NPM_DIR} after npm install"
    return dist


# --- the server ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PageServer:
    """`uvicorn --factory tests.uploads.tus_js.app:create`: tests.uploads.serve's tus server plus the page and bundle."""

    def __init__(self, directory: Path, dist: Path) -> None:
        self.directory = directory
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("DUALCAM_")},
            "UPLOADS_TEST_DB": f"sqlite+aiosqlite:///{directory / 'uploads.sqlite3'}",
            "UPLOADS_TEST_STORE": f"file://{directory / 'objects'}",
            "TUS_JS_DIST": str(dist),
            "PYTHONUNBUFFERED": "1",
        }
        self.log = directory / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PageServer:
        for _ in range(3):  # a port taken between the probe and uvicorn's bind: try another
            self.port = free_port()
            with self.log.open("ab") as out:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "--factory", "tests.uploads.tus_js.app:create", "--host", "127.0.0.1",
                     "--port", str(self.port), "--log-level", "warning"],
                    cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if httpx.get(f"{self.url}/tus-js-client/tus.min.js", timeout=1).status_code == 200:
                        return self
                except httpx.TransportError:
                    time.sleep(0.05)
            if self.proc.poll() is None:
                self.stop()
                raise AssertionError(f"tus-js-client page server not ready in 30 s:\n{self.log_tail()}")
        raise AssertionError(f"tus-js-client page server did not start:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stored(self, url: str) -> bytes:
        return (self.directory / "objects" / "uploads" / url.rsplit("/", 1)[1]).read_bytes()

    def head(self, url: str) -> httpx.Response:
        response = httpx.head(url, headers=HEAD, timeout=5)
        assert response.status_code == 200, response.status_code
        return response


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tus_js_dist: Path) -> Iterator[PageServer]:
    running = PageServer(tmp_path_factory.mktemp("tus-js-server"), tus_js_dist).start()
    yield running
    running.stop()
    log = running.log_tail()
    assert "Traceback" not in log, log


# --- the browser, in a thread of its own -----------------------------------------------------------------


@dataclass
class Sent:
    """One request the page sent to the tus endpoint, as Chromium put it on the wire, and its answer."""

    method: str
    url: str
    headers: dict[str, str]  # lower-case names
    body: bytes | None  # None: no body at all
    status: int | None  # None: no answer (the page went away)
    answer: dict[str, str]

    @property
    def length(self) -> int:
        return int(self.headers.get("content-length", "0"))


class BrowserThread:
    """Chromium driven by Playwright's sync API, every call made in one worker thread (see the module's docstring)."""

    def __init__(self, chromium: Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tus-js-playwright")
        self._playwright: Any = None
        self._browser: Any = None
        self.call(self._launch, chromium)

    def call(self, job: Callable[..., T], *args: Any, timeout: float = 180) -> T:
        return self._pool.submit(job, *args).result(timeout=timeout)

    def _launch(self, chromium: Path) -> None:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_FLAGS)

    def on_page(self, url: str, steps: Callable[[Any, list[Any]], T]) -> tuple[T, list[Sent]]:
        """Runs `steps(page, sent)` on a fresh page at `url` (own context: own localStorage). `sent` collects the
        Playwright requests to the tus endpoint; they come back as `Sent` records."""

        def job() -> tuple[T, list[Sent]]:
            context = self._browser.new_context()
            context.set_default_timeout(60_000)
            try:
                page = context.new_page()
                requests: list[Any] = []
                page.on("request", lambda request: requests.append(request) if f"{MOUNT}/" in request.url else None)
                page.goto(url)
                result = steps(page, requests)
                return result, [record(request) for request in requests]
            finally:
                context.close()

        return self.call(job)

    def close(self) -> None:
        def job() -> None:
            if self._browser is not None:
                self._browser.close()
            if self._playwright is not None:
                self._playwright.stop()

        try:
            self.call(job, timeout=60)
        finally:
            self._pool.shutdown(wait=False)


def record(request: Any) -> Sent:
    response = request.response() if request.failure is None else None
    return Sent(
        method=request.method,
        url=request.url,
        headers=request.all_headers(),
        body=request.post_data_buffer,
        status=response.status if response is not None else None,
        answer=response.all_headers() if response is not None else {},
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserThread]:
    if not CHROMIUM.exists():
        unavailable(f"chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    running = BrowserThread(CHROMIUM)
    yield running
    running.close()


def evaluate(script: str, arg: dict[str, Any]) -> Callable[[Any, list[Any]], Any]:
    return lambda page, _requests: page.evaluate(script, arg)


# --- the tests -------------------------------------------------------------------------------------------


def test_deferred_length_stream_like_a_recorder(server: PageServer, browser: BrowserThread) -> None:
    seed, size, chunk = 11, 3 * MiB + 12_345, 256 * KiB
    # Uneven pieces every 40 ms (~1.4 s in all): MediaRecorder's chunks do not line up with tus chunks.
    params = {"seed": seed, "size": size, "pieces": [97_000, 41_300, 150_011, 64_000], "intervalMs": 40, "chunkSize": chunk}
    result, sent = browser.on_page(f"{server.url}/", evaluate("p => harness.deferredStream(p)", params))

    post, *patches = sent
    assert post.method == "POST" and post.status == 201, post
    assert post.headers.get("upload-defer-length") == "1" and "upload-length" not in post.headers
    assert result["url"] == f"{server.url}{MOUNT}/{post.answer['location'].rsplit('/', 1)[1]}"  # a relative Location, resolved
    assert [p.method for p in patches] == ["PATCH"] * len(patches)
    assert all(p.status == 204 and p.url == result["url"] for p in patches), [(p.method, p.status) for p in patches]
    *data, final = patches
    # The data went out in tus chunks while the recorder was still producing.
    assert [p.length for p in data] == [chunk] * (size // chunk) + [size % chunk]
    assert all("upload-length" not in p.headers for p in data)
    assert result["chunks"][0]["at"] < result["producerDoneAt"], "nothing was acknowledged before the stream ended"
    # tus-js-client's last request: the length, and no body at all — not even a Content-Length: 0.
    assert final.headers.get("upload-length") == str(size)
    assert "content-length" not in final.headers and not final.body, final.headers
    assert final.answer["upload-offset"] == str(size)

    head = server.head(result["url"])
    assert head.headers["upload-offset"] == head.headers["upload-length"] == str(size)
    stored = server.stored(result["url"])
    assert hashlib.sha256(stored).hexdigest() == result["sha256"]
    assert_same_bytes(stored, seeded_bytes(seed, size))


@pytest.mark.parametrize("with_upload", [False, True], ids=["creation", "creation-with-upload"])
def test_a_file_in_chunks(server: PageServer, browser: BrowserThread, with_upload: bool) -> None:
    seed, size, chunk = 22 + with_upload, 5 * MiB + 123, MiB
    params = {"seed": seed, "size": size, "chunkSize": chunk, "uploadDataDuringCreation": with_upload}
    result, sent = browser.on_page(f"{server.url}/", evaluate("p => harness.blobUpload(p)", params))

    post, *patches = sent
    assert post.method == "POST" and post.status == 201 and post.headers.get("upload-length") == str(size)
    lengths = [min(chunk, size - start) for start in range(0, size, chunk)]
    if with_upload:
        assert post.length == chunk and post.answer["upload-offset"] == str(chunk)
        lengths = lengths[1:]
    assert [(p.method, p.status, p.length) for p in patches] == [("PATCH", 204, n) for n in lengths]
    assert patches[-1].answer["upload-offset"] == str(size)

    head = server.head(result["url"])
    assert head.headers["upload-offset"] == head.headers["upload-length"] == str(size)
    metadata = dict(item.split(" ") for item in head.headers["upload-metadata"].split(","))
    assert base64.b64decode(metadata["filename"]) == b"main.webm"
    stored = server.stored(result["url"])
    assert hashlib.sha256(stored).hexdigest() == result["sha256"]
    assert_same_bytes(stored, seeded_bytes(seed, size))


def test_resume_after_a_reload_mid_patch(server: PageServer, browser: BrowserThread) -> None:
    seed, size, chunk = 33, 6 * MiB + 1001, 2 * MiB
    params = {"seed": seed, "size": size, "chunkSize": chunk, "stopAt": chunk + MiB}

    def steps(page: Any, requests: list[Any]) -> dict[str, Any]:
        # Upload throttled to 4 MiB/s: a 2 MiB PATCH takes ~0.5 s, so the reload lands in the middle of one.
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        conditions = {"offline": False, "latency": 0, "downloadThroughput": -1}
        cdp.send("Network.emulateNetworkConditions", {**conditions, "uploadThroughput": 4 * MiB})
        first = page.evaluate("p => harness.startResumable(p)", params)
        before = len(requests)
        page.reload()
        cdp.send("Network.emulateNetworkConditions", {**conditions, "uploadThroughput": -1})
        second = page.evaluate("p => harness.resume(p)", params)
        return {"first": first, "second": second, "before": before}

    result, sent = browser.on_page(f"{server.url}/", steps)
    first, second = result["first"], result["second"]
    url = first["url"]
    cut, resumed = sent[: result["before"]], sent[result["before"] :]
    assert [s.method for s in cut[:2]] == ["POST", "PATCH"] and cut[1].status == 204
    assert cut[-1].method == "PATCH" and cut[-1].status is None, "the reload did not cut a PATCH in flight"

    # After the reload: tus-js-client found its URL in localStorage, asked for the offset and went on from there.
    assert second["previousUploads"] == [url] and second["url"] == url
    assert "POST" not in [s.method for s in resumed]
    assert resumed[0].method == "HEAD" and resumed[0].url == url and resumed[0].status == 200
    offset = int(resumed[0].answer["upload-offset"])
    assert chunk <= offset < size
    last_head = max(i for i, s in enumerate(resumed) if s.method == "HEAD")
    patches = [s for s in resumed[last_head + 1 :] if s.method == "PATCH" and s.status == 204]
    restart = int(resumed[last_head].answer["upload-offset"])
    assert sum(p.length for p in patches) == size - restart  # nothing acknowledged was sent again
    assert patches[-1].answer["upload-offset"] == str(size)

    stored = server.stored(url)
    assert hashlib.sha256(stored).hexdigest() == second["sha256"]
    assert_same_bytes(stored, seeded_bytes(seed, size))
