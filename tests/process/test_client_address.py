"""The client a real `dualcam serve` counts failed log-ins against: the X-Forwarded-For of a trusted proxy
(DUALCAM_FORWARDED_ALLOW_IPS, uvicorn's proxy headers), and the peer address whatever the header says otherwise."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.support.api import Api, id_number, phone
from tests.support.processes import Server, Servers

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

LOGIN = "/api/v1/auth/candidate/login"
MAX_FAILURES = 5  # Settings.login_max_failures


async def _login(server: Server, secret: str, forwarded_for: str) -> int:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        body = {"identifier": phone(1), "secret": secret}
        response = await client.post(LOGIN, json=body, headers={"X-Forwarded-For": forwarded_for})
    return response.status_code


async def test_behind_a_trusted_proxy_each_forwarded_client_counts_alone(
    api: Api, settings: Settings, servers: Servers, tmp_path: Path
) -> None:
    ops = await api.staff()
    (row,) = await api.roster(ops, (await api.exam(ops))["id"], [("张三", id_number(1), phone(1))])
    env = {"DUALCAM_DATABASE_URL": settings.resolved_database_url, "DUALCAM_DATA_DIR": str(tmp_path / "served")}

    # The test talks to it from 127.0.0.1, the default trusted proxy: the header names the client.
    proxied = await servers.add("proxied", env).start()
    for _ in range(MAX_FAILURES):
        assert await _login(proxied, "WRONGCOD", "203.0.113.9") == 401
    assert await _login(proxied, row["access_code"], "203.0.113.9") == 429
    assert await _login(proxied, row["access_code"], "198.51.100.4") == 200  # the owner, elsewhere
    proxied.stop()

    # Trusting another proxy only: the header is anybody's to write, so the peer (127.0.0.1) is the client.
    direct = await servers.add("direct", {**env, "DUALCAM_FORWARDED_ALLOW_IPS": "192.0.2.1"}).start()
    for n in range(MAX_FAILURES):
        assert await _login(direct, "WRONGCOD", f"198.51.100.{10 + n}") == 401
    assert await _login(direct, row["access_code"], "198.51.100.99") == 429
