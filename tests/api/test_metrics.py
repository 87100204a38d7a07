"""GET /metrics through HTTP: ops only, and what an exam day moves — requests by route template, tus bytes, open
sockets by role and their closes, the face engine's calls, analysis jobs and sittings per state of the open session.
The metrics are the process's (prometheus-client's registry), shared by every app a test run builds, so each test
reads differences between two scrapes."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.models import StaffRole
from tests.support.api import Api
from tests.support.face import candidate_with_photo, face_models_fixture, face_settings, photo, selfie  # noqa: F401  (the app loads the face engine)
from tests.support.flags import answering, recorded
from tests.support.media import webm
from tests.support.ws import phone, ws_client

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
MAIN_VIDEO = webm(seconds=3.0)
AUX_VIDEO = webm(seconds=3.0, fps=8)


async def scrape(api: Api, token: str) -> tuple[str, Samples]:
    response = await api.request("GET", "/metrics", token)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, frozenset(s.labels.items())): s.value for family in text_string_to_metric_families(response.text) for s in family.samples
    }
    return response.text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_metrics_are_for_ops_only(api: Api) -> None:
    ops = await api.staff()
    assert (await api.request("GET", "/metrics")).status_code == 401
    for role in (StaffRole.reviewer, StaffRole.grader):
        other = await api.staff(role)
        refused = await api.request("GET", "/metrics", other)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    text, _ = await scrape(api, ops)
    assert "# TYPE dualcam_http_requests_total counter" in text and "process_cpu_seconds_total" in text


async def test_an_answered_sitting_moves_the_request_socket_upload_job_and_sitting_metrics(api: Api) -> None:
    async with answering(api) as a:
        ops = a.s.ops
        _, before = await scrape(api, ops)
        # Both phones are connected before the first scrape: they count as open; the session is open, answering.
        assert value(before, "dualcam_websockets_open", role="main") >= 1 and value(before, "dualcam_websockets_open", role="aux") >= 1
        assert value(before, "dualcam_sittings", session_id=a.s.session["id"], state="answering") == 1
        await recorded(a, MAIN_VIDEO, AUX_VIDEO)
        await a.flags()
        text, after = await scrape(api, ops)

    patch = {"method": "PATCH", "route": "/api/v1/uploads/*"}
    assert moved(before, after, "dualcam_upload_bytes_total") == len(MAIN_VIDEO) + len(AUX_VIDEO)
    assert moved(before, after, "dualcam_http_requests_total", **patch, status="204") == 2
    assert moved(before, after, "dualcam_upload_patch_duration_seconds_count") == 2
    flags_route = {"method": "GET", "route": "/api/v1/ops/sittings/{sitting_id}/flags"}
    assert moved(before, after, "dualcam_http_requests_total", **flags_route, status="200") == 1
    assert moved(before, after, "dualcam_http_request_duration_seconds_count", **flags_route) == 1
    assert a.sitting_id not in text  # route templates, never the paths' ids
    assert value(after, "dualcam_sittings", session_id=a.s.session["id"], state="uploaded") == 1
    assert value(after, "dualcam_sittings", session_id=a.s.session["id"], state="answering") == 0
    assert moved(before, after, "dualcam_analysis_jobs", status="pending") == 2

    # Out of the scene: both sockets closed, by the phones.
    _, closed = await scrape(api, ops)
    for role in ("main", "aux"):
        assert moved(after, closed, "dualcam_websockets_open", role=role) == -1
    closes = sum(moved(after, closed, "dualcam_websocket_closes_total", role=role, code=code) for role in ("main", "aux") for code in ("1000", "1005"))
    assert closes == 2


async def test_a_refused_socket_counts_as_unauthenticated_with_its_close_code(api: Api) -> None:
    ops = await api.staff()
    _, before = await scrape(api, ops)
    async with ws_client(api.app) as client, phone(client, "not-a-token") as ws:
        error: dict[str, Any] = await ws.receive_json()
        assert error["type"] == "error" and error["request_id"]
    _, after = await scrape(api, ops)
    assert moved(before, after, "dualcam_websocket_closes_total", role="unauthenticated", code="4401") == 1


async def test_face_engine_calls_are_timed_and_none_pending_after(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    _, token = await candidate_with_photo(api, ops, exam["id"])
    _, before = await scrape(api, ops)
    assert (await selfie(api, token, photo("person_a_2"))).status_code == 200
    _, after = await scrape(api, ops)
    assert moved(before, after, "dualcam_face_duration_seconds_count") >= 1
    assert value(after, "dualcam_face_pending") == 0
    assert moved(before, after, "dualcam_face_busy_total") == 0
