"""Fixtures for the browser end-to-end tests: Debian chromium driven by Playwright (sync API) with a fake camera
showing a real face, against one real `dualcam serve` whose clock ticks from a file (each test sets up its own exam and moves the
clock only forward, so tests share the server).

Chromium missing: the tests fail when CI is set (CI must run them) and are skipped otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.console import DESK
from tests.e2e.support import CHROMIUM, CHROMIUM_FLAGS, FACES, PHONE, ROOT, T0, E2EServer, Ops, TickingClock, make_fake_camera


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.timeout(240))


LOG_AT = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    server = getattr(item, "funcargs", {}).get("server")
    if isinstance(server, E2EServer):
        item.stash[LOG_AT] = server.log_size()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report carries what the server logged while it ran: a browser timeout alone says nothing of
    what the server answered."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    server = getattr(item, "funcargs", {}).get("server")
    if report.when == "call" and report.failed and isinstance(server, E2EServer) and LOG_AT in item.stash:
        report.sections.append(("dualcam serve log during the test", server.log_since(item.stash[LOG_AT])))


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the browser tests")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def fake_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fake_camera(FACES / "person_a_2.jpg", tmp_path_factory.mktemp("camera") / "person_a_2.y4m")


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """One Playwright for the whole run: a second sync_playwright in the same thread refuses to start."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="session")
def browser(playwright: Any, chromium: Path, fake_camera: Path) -> Iterator[object]:
    browser = playwright.chromium.launch(executable_path=str(chromium), args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={fake_camera}"])
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def face_models() -> Path:
    from app.face.packs import fetch_models

    directory = Path(os.environ.get("DUALCAM_FACE_MODEL_DIR") or ROOT / "var" / "models")
    report = fetch_models(directory, ("sface",))
    assert report.ok, report.to_dict()
    return directory


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, face_models: Path, chromium: Path) -> Iterator[E2EServer]:
    data = tmp_path_factory.mktemp("e2e-server")
    clock = TickingClock(data / "clock.txt", T0)
    srv = E2EServer(data, clock, face_models)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        clock.close()


@pytest.fixture(scope="session")
def ops(server: E2EServer) -> Ops:
    return Ops(server)


@pytest.fixture
def phone(browser: object, request: pytest.FixtureRequest) -> Iterator[Callable[..., object]]:
    """A factory of phones (browser contexts with a phone's viewport); page errors and anything the
    Content-Security-Policy refused (reported on the console only) fail the test."""
    contexts: list[object] = []
    errors: list[str] = []

    def make(**options: object) -> object:
        context = browser.new_context(**{**PHONE, **options})  # type: ignore[attr-defined]
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(f"{error}"))
        page.on("console", lambda message: errors.append(message.text) if "Content Security Policy" in message.text else None)
        page.set_default_timeout(15000)
        return page

    yield make
    for context in contexts:
        context.close()  # type: ignore[attr-defined]
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def desk(browser: Any) -> Iterator[Callable[[], Any]]:
    """A factory of desktop pages (the staff console); page errors and console errors fail the test, except those
    whose text contains one of `page.errors_expected` (a refusal the test provokes on purpose)."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make() -> Any:
        context = browser.new_context(**DESK)  # type: ignore[attr-defined]
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors_expected = []  # parts of console errors a test provokes on purpose
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" and not any(e in message.text for e in page.errors_expected) else None)
        page.set_default_timeout(15000)
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"errors in the page: {errors}"
