"""A real `dualcam serve` with DUALCAM_METRICS_LISTEN: the metrics on their own address without a token (a scraper on
a private network), gone from the main port; the scheduler's leadership and lag, and the database's numbers
refreshed in the background."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from tests.support.api import Api
from tests.support.processes import ClockFile, Servers, free_port, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


def samples(text: str) -> dict[str, float]:
    return {s.name + str(sorted(s.labels.items())): s.value for f in text_string_to_metric_families(text) for s in f.samples}


async def test_the_metrics_listener_serves_without_a_token_and_the_main_port_no_longer_does(
    api: Api, settings: Settings, servers: Servers, tmp_path: Path
) -> None:
    ops = await api.staff()
    port = free_port()
    env = {
        "DUALCAM_DATABASE_URL": settings.resolved_database_url,
        "DUALCAM_DATA_DIR": str(tmp_path / "served"),
        "DUALCAM_METRICS_LISTEN": f"127.0.0.1:{port}",
        "DUALCAM_METRICS_REFRESH_SECONDS": "0.2",
        "DUALCAM_CLOCK_FILE": str(ClockFile(tmp_path / "clock.txt", api.clock.now()).path),  # the ops token's time
    }
    server = await servers.add("server", env).start()

    async def scraped() -> dict[str, float] | None:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(f"http://127.0.0.1:{port}/metrics")
        found = samples(response.text)
        # The first pass as leader, and the database read: both come within a tick or two of the start.
        leads = found.get("dualcam_scheduler_leader[]") == 1 and "dualcam_analysis_jobs[('status', 'pending')]" in found
        return found if leads else None

    found = await wait_until(scraped, timeout=15, what="the leader's metrics on the listener")
    assert found["dualcam_scheduler_last_pass_timestamp_seconds[]"] > 0
    assert 0 <= found["dualcam_scheduler_lag_seconds[]"] < 5
    assert found["process_resident_memory_bytes[]"] > 0

    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        gone = await client.get("/metrics", headers={"Authorization": f"Bearer {ops}"})
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    server.stop()
    assert [e for e in server.events("metrics.listening")][0]["address"] == f"127.0.0.1:{port}"
