"""Both apps are installable: a manifest with icons, lang zh-CN, and a service worker that caches the app shell
(so a reload without network still opens the app) but never an API call."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.support import E2EServer


@pytest.mark.parametrize("app", ["main", "aux"])
def test_manifest_icons_and_an_offline_shell_without_cached_api_calls(server: E2EServer, phone, app: str) -> None:
    manifest = httpx.get(f"{server.url}/{app}/manifest.webmanifest").json()
    assert manifest["lang"] == "zh-CN" and manifest["start_url"] == f"/{app}/" and manifest["display"] == "standalone"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        response = httpx.get(f"{server.url}{icon['src']}")
        assert response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n"

    page = phone()
    page.goto(f"{server.url}/{app}/")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.evaluate("document.querySelector('link[rel=manifest]').href").endswith(f"/{app}/manifest.webmanifest")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now controlled by the worker
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")  # a function: the CSP refuses eval
    page.evaluate("fetch('/api/v1/time').then((r) => r.json())")
    cached = page.evaluate("caches.keys().then(async (names) => (await Promise.all(names.map(async (n) => (await (await caches.open(n)).keys()).map((r) => new URL(r.url).pathname)))).flat())")
    assert f"/{app}/" in cached and "/common/api.js" in cached
    assert not [path for path in cached if path.startswith("/api/")], cached

    page.context.set_offline(True)
    page.reload()
    page.wait_for_selector("#app header")  # the shell came from the cache
    page.context.set_offline(False)
