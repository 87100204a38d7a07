"""The phone apps' offline shell lists every script and style they load: a module missing from it breaks the app on a
phone that reloads without a network (its import fails), which would only show on the day."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
DIRS = {"main": "main_cam", "aux": "aux_cam", "common": "common"}
LISTED = re.compile(r'"/(main|aux|common)/([^"]*)"')
LOADED = {".js", ".css", ".webmanifest"}
WORKERS = {"sw.js", "sw-core.js"}  # the service worker itself, not part of what it caches


def shell(app: str) -> set[Path]:
    """The files the app's service worker caches, as paths on disk ("/main/" is the app's index.html)."""
    text = (CLIENTS / DIRS[app] / "sw.js").read_text() + (CLIENTS / "common" / "sw-core.js").read_text()
    return {CLIENTS / DIRS[prefix] / (rest or "index.html") for prefix, rest in LISTED.findall(text) if rest or prefix != "common"}


def loaded(directory: Path) -> set[Path]:
    return {f for f in directory.rglob("*") if f.is_file() and f.suffix in LOADED and f.name not in WORKERS}


@pytest.mark.parametrize("app", ["main", "aux"])
def test_the_shell_lists_every_script_and_style_of_the_app_and_of_common(app: str) -> None:
    cached = shell(app)
    assert sorted(str(f) for f in cached if not f.exists()) == []
    needed = loaded(CLIENTS / DIRS[app]) | loaded(CLIENTS / "common") | {CLIENTS / DIRS[app] / "index.html"}
    assert sorted(str(f.relative_to(CLIENTS)) for f in needed - cached) == []
