"""Interop with the official Python client (tuspy) against a real uvicorn process on a free loopback port:
chunked upload, resume after a stopped upload, after a connection cut mid-PATCH, and after kill -9 of the server."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tusclient.client import TusClient

from tests.uploads.flows import MOUNT
from tests.uploads.processes import AUTH, UploadServer

pytestmark = pytest.mark.slow
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UploadServer]:
    running = UploadServer(tmp_path_factory.mktemp("tus-server")).start()
    yield running
    running.kill()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[UploadServer]:
    running = UploadServer(tmp_path).start()
    yield running
    running.kill()


def cut_patch(server: UploadServer, location: str, offset: int, body: bytes, sent: int) -> None:
    """A PATCH announcing `body` whose connection drops after `sent` bytes (no FIN-wait games: a hard close)."""
    path = location.removeprefix(server.url)
    head = (
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nTus-Resumable: 1.0.0\r\n"
        f"Authorization: Bearer phone-1\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: {offset}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head + body[:sent])
        time.sleep(0.3)  # let the server read what arrived


def wait_for_offset(server: UploadServer, location: str, expected: int) -> None:
    deadline = time.monotonic() + 10
    while server.offset(location) != expected:
        assert time.monotonic() < deadline, f"offset stuck at {server.offset(location)}, expected {expected}"
        time.sleep(0.05)


def test_tuspy_uploads_in_chunks_and_resumes(server: UploadServer) -> None:
    data = os.urandom(3 * MiB + 17)
    client = TusClient(f"{server.url}{MOUNT}/", headers=AUTH)
    first = client.uploader(file_stream=io.BytesIO(data), chunk_size=256 * 1024, metadata={"filename": "main.webm"})
    first.upload(stop_at=MiB)  # the phone went away after 1 MiB
    location = first.url
    assert location is not None and location.startswith(f"{server.url}{MOUNT}/")
    assert server.offset(location) == MiB

    # A new client (new process, same file) resumes from the server's offset, with per-chunk checksums.
    resumed = client.uploader(file_stream=io.BytesIO(data), chunk_size=512 * 1024, url=location, upload_checksum=True)
    assert resumed.offset == MiB
    resumed.upload()
    assert server.offset(location) == len(data)
    assert hashlib.sha256(server.stored(location)).hexdigest() == hashlib.sha256(data).hexdigest()


def test_resume_after_a_connection_cut_mid_patch(server: UploadServer) -> None:
    data = os.urandom(2 * MiB)
    client = TusClient(f"{server.url}{MOUNT}/", headers=AUTH)
    uploader = client.uploader(file_stream=io.BytesIO(data), chunk_size=MiB)
    uploader.upload(stop_at=512 * 1024)
    location = uploader.url
    assert location is not None
    # The next PATCH loses its connection after 300 KiB: the server keeps what it received (tus: store as much
    # as possible) and releases the upload at once, so the resumed client neither waits nor resends those bytes.
    cut_patch(server, location, 512 * 1024, data[512 * 1024 :], sent=300 * 1024)
    wait_for_offset(server, location, 812 * 1024)
    resumed = client.uploader(file_stream=io.BytesIO(data), chunk_size=MiB, url=location)
    assert resumed.offset == 812 * 1024
    resumed.upload()
    assert server.stored(location) == data


def test_acknowledged_bytes_survive_kill_9(own_server: UploadServer) -> None:
    server = own_server
    data = os.urandom(2 * MiB)
    client = TusClient(f"{server.url}{MOUNT}/", headers=AUTH)
    uploader = client.uploader(file_stream=io.BytesIO(data), chunk_size=256 * 1024)
    uploader.upload(stop_at=MiB)
    assert uploader.url is not None
    location = uploader.url.removeprefix(server.url)
    acknowledged = uploader.offset

    # A PATCH is in flight (holding the upload's lock) when the server dies.
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            (
                f"PATCH {location} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer phone-1\r\n"
                f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: {acknowledged}\r\n"
                f"Content-Length: {MiB}\r\n\r\n"
            ).encode()
            + data[acknowledged : acknowledged + 100 * 1024]
        )
        time.sleep(0.3)
        server.kill()

    server.start()  # same database and files, new port
    location_now = f"{server.url}{location}"
    assert server.offset(location_now) == acknowledged  # every acknowledged byte, nothing unacknowledged
    resumed = client.uploader(file_stream=io.BytesIO(data), chunk_size=512 * 1024, url=location_now)
    resumed.upload()
    assert server.stored(location_now) == data
