"""The upload server as a real process (`uvicorn --factory tests.uploads.serve:create`) on a free loopback port:
restartable on the same database and store (each run logs to its own file), killed with SIGKILL as a process
group. Used by the interop tests (tuspy) and the crash tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.uploads.flows import MOUNT, TUS

ROOT = Path(__file__).resolve().parents[2]
AUTH = {"Authorization": "Bearer phone-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UploadServer:
    """One server process over a database and a store (by default SQLite and local files in `directory`).

    `env` adds settings serve.py reads (UPLOADS_TEST_LEASE_S, UPLOADS_TEST_RELEASE_STALE_LOCKS, ...)."""

    def __init__(
        self,
        directory: Path,
        *,
        db_url: str | None = None,
        store_url: str | None = None,
        name: str = "server",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = directory
        self.name = name
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DUALCAM_", "UPLOADS_TEST_"))},
            "UPLOADS_TEST_DB": db_url or f"sqlite+aiosqlite:///{directory / 'uploads.sqlite3'}",
            "UPLOADS_TEST_STORE": store_url or f"file://{directory / 'objects'}",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.runs = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _log_path(self, run: int) -> Path:
        return self.directory / f"{self.name}-{run}.log"

    def start(self, timeout: float = 30) -> UploadServer:
        """Spawn on a fresh port and wait until OPTIONS answers (the lifespan has run)."""
        assert not self.running, f"{self.name} is already running"
        for _ in range(3):  # a port taken between the probe and uvicorn's bind: try another
            self.port = free_port()
            self.runs += 1
            with self._log_path(self.runs).open("wb") as log:  # the child keeps its own descriptor
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "uvicorn", "--factory", "tests.uploads.serve:create", "--host", "127.0.0.1",
                     "--port", str(self.port), "--log-level", "warning"],
                    cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if httpx.options(f"{self.url}{MOUNT}/", timeout=1).status_code == 204:
                        return self
                except httpx.TransportError:
                    time.sleep(0.05)
            if self.proc.poll() is None:
                self.kill()
                raise AssertionError(f"{self.name} not ready in {timeout} s:\n{self.log()}")
            if "address already in use" not in self.log().lower():
                break
        raise AssertionError(f"{self.name} did not start (exit {self.proc and self.proc.returncode}):\n{self.log()}")

    def kill(self) -> bool:
        """SIGKILL to the process group: no shutdown hook runs. True if it was running."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return False
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)
        return True

    def log(self, run: int | None = None) -> str:
        path = self._log_path(run or self.runs)
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stored(self, location: str) -> bytes:
        """The upload's bytes in the local store (the default `file://` store only)."""
        return (self.directory / "objects" / "uploads" / location.rsplit("/", 1)[-1]).read_bytes()

    def head(self, location: str) -> httpx.Response:
        """HEAD of an upload by id or URL (on whatever port this server runs now)."""
        return httpx.head(f"{self.url}{MOUNT}/{location.rsplit('/', 1)[-1]}", headers={**TUS, **AUTH}, timeout=5)

    def offset(self, location: str) -> int:
        response = self.head(location)
        assert response.status_code == 200, response.status_code
        return int(response.headers["upload-offset"])


@contextmanager
def killed_at_exit(*servers: UploadServer) -> Iterator[tuple[UploadServer, ...]]:
    """Every server is killed when the block ends, whatever happened in it."""
    try:
        yield servers
    finally:
        for server in servers:
            server.kill()
