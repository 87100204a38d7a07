from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.config import Settings
from app.main import create_app
from tests.support.api import Api

pytestmark = pytest.mark.anyio

PATHS = create_app(Settings(env="test")).openapi()["paths"]


async def test_health_and_readiness(api: Api) -> None:
    assert await api.ok("GET", "/healthz") == {"status": "ok"}
    ready = await api.ok("GET", "/readyz")
    assert ready["checks"] == {"database": "ok", "object_store": "ok", "scheduler": "disabled"}


async def test_server_time_follows_the_injected_clock(api: Api) -> None:
    first = await api.ok("GET", "/api/v1/time")
    assert first == {"now": "2026-06-01T00:00:00.000Z", "epoch_ms": int(api.clock.now().timestamp() * 1000)}
    api.clock.advance(minutes=7, milliseconds=5)
    later = await api.ok("GET", "/api/v1/time")
    assert later["epoch_ms"] - first["epoch_ms"] == int(timedelta(minutes=7, milliseconds=5).total_seconds() * 1000)
    assert later["now"] == "2026-06-01T00:07:00.005Z"


async def test_unknown_path_and_method_use_the_error_shape(api: Api) -> None:
    response = await api.request("GET", "/api/v1/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = await api.request("DELETE", "/api/v1/time")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


async def test_a_method_a_path_does_not_serve_answers_405_with_every_method_it_does(api: Api) -> None:
    """`Allow` names all the path's methods (FastAPI has one route per method; Starlette's 405 named only the first)."""
    wrong = {}
    for path, operations in PATHS.items():
        served = {m.upper() for m in operations}
        url = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)
        for method in sorted({"OPTIONS", "PUT", "DELETE", "PATCH", "POST", "GET"} - served):
            response = await api.request(method, url)
            assert (response.status_code, response.json()["error"]["code"]) == (405, "method_not_allowed"), (method, path)
            if set(response.headers["allow"].split(", ")) != served:
                wrong[f"{method} {path}"] = response.headers["allow"]
    assert wrong == {}


async def test_phone_apps_are_served_with_manifests(api: Api) -> None:
    for role in ("main", "aux"):
        page = await api.request("GET", f"/{role}/")
        assert page.status_code == 200 and 'lang="zh-CN"' in page.text
        manifest = await api.ok("GET", f"/{role}/manifest.webmanifest")
        assert manifest["start_url"] == f"/{role}/"
