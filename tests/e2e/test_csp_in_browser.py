"""The docs page runs under its own policy: Swagger UI's scripts from the CDN (stubbed here: the test has no
network) and FastAPI's inline script, allowed by its hash, run, and the spec loads; the policy refuses nothing.
The phone apps run under the strict policy in every other browser test (the `phone` fixture fails on a refusal)."""

from __future__ import annotations

from tests.e2e.support import E2EServer

SWAGGER_STUB = """
window.SwaggerUIBundle = function (config) {
  fetch(config.url).then((r) => r.json()).then((spec) => { document.body.dataset.spec = spec.info.title; });
  return {};
};
window.SwaggerUIBundle.presets = { apis: {} };
window.SwaggerUIBundle.SwaggerUIStandalonePreset = {};
"""


def test_the_docs_inline_script_runs_and_fetches_the_spec_under_the_docs_policy(server: E2EServer, phone) -> None:
    page = phone()

    def cdn(route) -> None:  # type: ignore[no-untyped-def]
        url = route.request.url
        if url.endswith(".js"):
            route.fulfill(status=200, content_type="application/javascript", body=SWAGGER_STUB)
        elif url.endswith(".css"):
            route.fulfill(status=200, content_type="text/css", body="#swagger-ui { display: block; }")
        else:
            route.fulfill(status=204)

    page.context.route("https://**/*", cdn)
    page.goto(f"{server.url}/docs")
    page.wait_for_function("() => document.body.dataset.spec === 'dualcam'")  # a function: a bare expression is eval'd, which CSP refuses


def test_a_script_injected_into_a_phone_app_does_not_run(server: E2EServer, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    try:
        page = context.new_page()
        refused: list[str] = []
        page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
        page.goto(f"{server.url}/main/")
        page.wait_for_selector("#app header")
        # What an XSS would do: markup with an inline script and an inline handler.
        page.evaluate("""() => {
            const s = document.createElement('script'); s.textContent = 'window.__owned = 1'; document.body.append(s);
            document.body.insertAdjacentHTML('beforeend', '<img src="data:," onerror="window.__owned = 2">');
        }""")
        page.wait_for_function("() => document.querySelector('img[onerror]').complete")
        assert page.evaluate("() => window.__owned") is None
        assert any("inline" in text for text in refused), refused
    finally:
        context.close()
