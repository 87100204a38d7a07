"""Request ids on a real `dualcam serve`: every answer and WebSocket handshake names its id (`X-Request-ID`), an error
body carries it for the phone to show, and the server's log lines for that request carry the same id, so a support
call quoting it finds them. A trusted proxy's own id is kept; anybody else's is replaced."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from httpx_ws import aconnect_ws

from app.config import Settings
from tests.support.processes import Servers

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

OURS = re.compile(r"[0-9a-f]{16}")
LOGIN = "/api/v1/auth/candidate/login"
BAD_LOGIN = {"identifier": "13800000000", "secret": "WRONGCOD"}


async def test_each_request_has_an_id_in_its_answer_its_error_and_its_log_lines(settings: Settings, servers: Servers, tmp_path: Path) -> None:
    env = {"DUALCAM_DATABASE_URL": settings.resolved_database_url, "DUALCAM_DATA_DIR": str(tmp_path / "served")}
    server = await servers.add("server", env).start()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        first, second = (await client.get("/api/v1/time")).headers["x-request-id"], (await client.get("/api/v1/time")).headers["x-request-id"]
        assert OURS.fullmatch(first) and OURS.fullmatch(second) and first != second

        refused = await client.post(LOGIN, json=BAD_LOGIN)
        assert refused.status_code == 401
        failed = refused.headers["x-request-id"]
        assert refused.json()["error"]["request_id"] == failed

        # From 127.0.0.1, the default trusted proxy: its id is the request's, in the answer and the error body.
        proxied = await client.post(LOGIN, json=BAD_LOGIN, headers={"X-Request-ID": "lb-7f3a9c21e0"})
        assert proxied.headers["x-request-id"] == "lb-7f3a9c21e0" and proxied.json()["error"]["request_id"] == "lb-7f3a9c21e0"
        # Not an id (a line break, too long): a new one instead, never written to the log as sent.
        for forged in ("x" * 65, "short", "a b c d e f g h"):
            assert OURS.fullmatch((await client.get("/api/v1/time", headers={"X-Request-ID": forged})).headers["x-request-id"])

        async with aconnect_ws(f"{server.url}/api/v1/ws?token=nonsense", client) as ws:
            socket_id = ws.response.headers["x-request-id"] if ws.response is not None else None
            error = await ws.receive_json()
        assert OURS.fullmatch(socket_id or "") and error["type"] == "error" and error["request_id"] == socket_id

    server.stop()
    lines = server.events()
    access = {e["request_id"]: e for e in lines if e.get("event") == "http.request"}
    assert access[failed]["path"] == LOGIN and access[failed]["status"] == 401
    assert access["lb-7f3a9c21e0"]["status"] == 401
    sockets = {e["request_id"]: e for e in lines if e.get("event") == "ws.session"}
    assert sockets[socket_id]["path"] == "/api/v1/ws" and sockets[socket_id]["close_code"] == 4401, sockets
    assert all("\n" not in e.get("request_id", "") and len(e.get("request_id", "")) <= 64 for e in lines)


async def test_an_untrusted_peer_cannot_choose_the_id(settings: Settings, servers: Servers, tmp_path: Path) -> None:
    env = {"DUALCAM_DATABASE_URL": settings.resolved_database_url, "DUALCAM_DATA_DIR": str(tmp_path / "served"), "DUALCAM_FORWARDED_ALLOW_IPS": "192.0.2.1"}
    server = await servers.add("direct", env).start()
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        answer = await client.post(LOGIN, json=BAD_LOGIN, headers={"X-Request-ID": "chosen-by-the-client"})
    assert OURS.fullmatch(answer.headers["x-request-id"]) and answer.json()["error"]["request_id"] == answer.headers["x-request-id"]
