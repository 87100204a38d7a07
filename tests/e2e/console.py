"""The staff console in the browser tests: staff accounts made with the CLI, desktop browser contexts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.support import ROOT, E2EServer

DESK = {"viewport": {"width": 1440, "height": 900}, "device_scale_factor": 1, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
SHOTS = ROOT / "docs" / "screenshots"


@dataclass(frozen=True)
class StaffAccount:
    id: str
    username: str
    password: str
    role: str


def staff_account(server: E2EServer, role: str = "reviewer", *exam_ids: str) -> StaffAccount:
    """A staff member made by `dualcam staff create`, assigned to the exams given."""
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    password = f"Staff{uuid.uuid4().hex[:10]}1"
    made = json.loads(server.cli("staff", "create", username, "--role", role, "--password", password, "--json"))
    for exam_id in exam_ids:
        server.cli("staff", "assign", username, exam_id)
    return StaffAccount(made["id"], username, password, role)


def log_in(page: Any, server: E2EServer, account: StaffAccount) -> None:
    page.goto(f"{server.url}/console/")
    form = page.locator("[data-test=login]")
    form.locator("input[name=username]").fill(account.username)
    form.locator("input[name=password]").fill(account.password)
    form.locator("button[type=submit]").click()
    page.locator("[data-test=who]").wait_for()


def shoot(page: Any, name: str) -> Path:
    """A full-page PNG of a console page under docs/screenshots/ (console-NAME.png), from the top: a full-page
    picture of a scrolled page shows the sticky top bar part-way down."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"console-{name}.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path), full_page=True)
    return path


def until(page: Any, check: Callable[[], Any], *, timeout: float, what: str, status: Callable[[], Any] = lambda: None) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}; {status()}"
        page.wait_for_timeout(200)
    return found
