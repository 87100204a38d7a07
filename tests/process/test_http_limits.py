"""HTTP limits as a real `dualcam serve` enforces them on the wire: a request head past its cap is answered 431 and
the connection closed before the app sees it, and bodies that are too large, or sent without a valid token to a
route that takes a large one, are answered before the client has finished sending them."""

from __future__ import annotations

import asyncio
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import databases
from tests.support.processes import Server, Servers

pytestmark = pytest.mark.slow

KiB = 1024
MiB = 1024 * KiB
HEAD_LIMIT = 32 * KiB  # DUALCAM_MAX_HEADER_BYTES' default
QUICK = 3.0  # seconds: "quickly" (the unbounded server took 17 s for 100 MB)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root: Path = tmp_path_factory.mktemp("http-limits")
    database = databases.sqlite_template(root)
    pool = Servers(root)
    server = pool.add("api", {"DUALCAM_DATABASE_URL": f"sqlite+aiosqlite:///{database}", "DUALCAM_DATA_DIR": str(root / "var")})
    try:
        asyncio.run(server.start())
        yield server
    finally:
        pool.close()


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=QUICK)
    sock.settimeout(QUICK)
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or a reset, which ends it as well)."""
    data = b""
    try:
        while chunk := sock.recv(64 * KiB):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def send_until_answered(sock: socket.socket, head: bytes, body_size: int, *, chunked: bool = False) -> int:
    """Send `head`, then up to `body_size` bytes of body, stopping as soon as the server answers or stops reading;
    returns how much of the body went out."""
    sock.sendall(head)
    sent = 0
    piece = b"x" * (64 * KiB)
    try:
        while sent < body_size:
            if select.select([sock], [], [], 0)[0]:
                break  # an answer (or a close) is waiting: the server did not wait for the rest
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            sent += len(piece)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server closed the connection on a body it would not read
    return sent


def test_a_head_past_the_limit_is_answered_431_and_the_connection_closed(server: Server) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        # A little past the limit, sent at once, so the server reads all of it before it closes (no reset).
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (HEAD_LIMIT + 8 * KiB))
        answer = read_answer(sock)
    assert time.monotonic() - started < QUICK
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"connection: close" in answer.lower() and b'"code": "headers_too_large"' in answer
    assert [e["limit"] for e in server.events("http.head.too_large")][-1:] == [HEAD_LIMIT]


def test_a_megabyte_header_ends_quickly_and_the_server_goes_on(server: Server) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sent = send_until_answered(sock, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", MiB)
        answer = read_answer(sock)
    assert time.monotonic() - started < QUICK
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ")  # a reset may overtake the 431 in flight
    # The client's bytes sit in socket buffers (MBs on loopback): what the server read is in its log.
    assert sent and server.events("http.head.too_large")[-1]["received"] <= HEAD_LIMIT + 256 * KiB
    # Headers under the limit, and requests after the refusal, are served as before.
    response = httpx.get(f"{server.url}/healthz", headers={"X-Fine": "b" * (HEAD_LIMIT // 2)}, timeout=QUICK)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_a_json_body_declared_too_large_is_answered_before_it_is_sent(server: Server) -> None:
    with connect(server) as sock:
        head = b"POST /api/v1/auth/candidate/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (200 * MiB)
        sock.sendall(head)  # and not a byte of the body
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"payload_too_large"' in answer and b"connection: close" in answer.lower()


def test_a_chunked_json_body_is_cut_off_past_the_limit(server: Server) -> None:
    with connect(server) as sock:
        head = b"POST /api/v1/auth/candidate/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        sent = send_until_answered(sock, head, 64 * MiB, chunked=True)
        answer = read_answer(sock)
    # Answered (or closed) a little past the 1 MiB limit, not at the end (socket buffers hold up to ~10 MiB).
    assert sent < 16 * MiB
    assert answer == b"" or answer.startswith(b"HTTP/1.1 413 ")


def test_an_anonymous_image_is_answered_401_before_the_client_has_sent_it(server: Server) -> None:
    """5 MB declared, a few bytes sent: the 401 comes back while the client still has almost all of it to send."""
    boundary = "b0undary"
    part = f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"f.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".encode()
    head = (
        b"POST /api/v1/candidate/identity/selfie HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: multipart/form-data; boundary=" + boundary.encode() + b"\r\nContent-Length: %d\r\n\r\n" % (5 * MiB)
    )
    with connect(server) as sock:
        sock.sendall(head + part + b"\xff\xd8\xff" + b"\0" * KiB)
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert b'"not_authenticated"' in answer
