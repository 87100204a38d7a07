"""Security headers: one policy for the phone apps and the API, a relaxed one for FastAPI's docs pages, HSTS over
https only, and no-store on API answers (the phone apps' static files keep their validators for the service
worker's network-first cache). The phone apps themselves run under the policy in tests/e2e."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from app.main import CLIENTS_DIR
from tests.support.api import Api

pytestmark = pytest.mark.anyio

FIXED = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        name, *values = part.split()
        assert name not in parsed, f"{name} twice"
        parsed[name] = values
    return parsed


async def test_the_phone_apps_and_the_api_get_the_strict_policy_and_the_fixed_headers(api: Api) -> None:
    ops = await api.staff()
    for path, token in (("/main/", None), ("/aux/", None), ("/common/ui.js", None), ("/main/sw.js", None), ("/api/v1/time", None),
                        ("/api/v1/ops/exams", ops), ("/api/v1/no-such-thing", None), ("/healthz", None)):  # fmt: skip
        response = await api.request("GET", path, token)
        assert response.status_code in (200, 404), path
        assert {k: response.headers.get(k) for k in FIXED} == FIXED, path
        policy = directives(response.headers["content-security-policy"])
        assert policy["default-src"] == ["'self'"] and policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
        assert policy["img-src"] == ["'self'", "data:", "blob:"] and policy["media-src"] == ["'self'", "blob:", "mediastream:"]
        assert policy["connect-src"] == ["'self'", "ws://testserver"], path  # the WebSocket, for pre-CSP-3 Safari
        assert "strict-transport-security" not in response.headers, path  # plain http


async def test_over_https_the_answers_add_hsts_and_the_websocket_origin_is_wss(api: Api) -> None:
    response = await api.client.get("https://testserver/main/")
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert directives(response.headers["content-security-policy"])["connect-src"] == ["'self'", "wss://testserver"]


async def test_a_host_header_that_is_not_a_host_stays_out_of_the_policy(api: Api) -> None:
    response = await api.client.get("/main/", headers={"host": "evil; script-src *"})
    policy = directives(response.headers["content-security-policy"])
    assert policy["connect-src"] == ["'self'"] and policy["script-src"] == ["'self'"]


async def test_api_answers_are_not_stored_but_static_files_and_own_cache_headers_are_left_alone(api: Api) -> None:
    ops = await api.staff()
    for path, token in (("/api/v1/time", None), ("/api/v1/ops/exams", ops), ("/api/v1/ops/exams", None), ("/api/v1/uploads/", None)):
        response = await api.request("GET", path, token)
        assert response.headers["cache-control"] == "no-store", (path, response.status_code)
    for path in ("/main/", "/main/app.js", "/main/sw.js", "/common/sw-core.js", "/main/manifest.webmanifest"):
        response = await api.request("GET", path)
        assert response.status_code == 200, path
        assert "cache-control" not in response.headers, path
        assert response.headers.get("etag") and response.headers.get("last-modified"), path  # the service worker revalidates


async def test_the_docs_pages_allow_the_cdn_and_their_own_inline_script_by_hash_only(api: Api) -> None:
    for path in ("/docs", "/docs/oauth2-redirect", "/redoc"):
        response = await api.request("GET", path)
        assert response.status_code == 200, path
        assert {k: response.headers.get(k) for k in FIXED} == FIXED, path
        policy = directives(response.headers["content-security-policy"])
        inline = re.findall(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", response.content, re.DOTALL)
        hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'" for script in inline]
        assert policy["script-src"] == ["https://cdn.jsdelivr.net", *hashes], path
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]
        assert policy["default-src"] == ["'none'"] and policy["connect-src"] == ["'self'"] and policy["frame-ancestors"] == ["'none'"]
        for source in re.findall(rb'(?:src|href)="(https://[^/"]+)', response.content):  # every CDN the page loads from
            origin = source.decode()
            assert any(origin in values for values in policy.values()), (path, origin)
    assert len(re.findall(rb"<script(?![^>]*\bsrc=)", (await api.request("GET", "/docs")).content)) == 1


def test_the_phone_apps_have_no_inline_script_style_or_handler() -> None:
    pages = sorted(Path(CLIENTS_DIR).rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert re.findall(r"<script\b[^>]*>", html) == ['<script type="module" src="app.js">'], page
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=|javascript:", html, re.IGNORECASE), page
