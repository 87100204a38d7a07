"""No-network guarantee: with every connection refused, the packs load and run from local files only."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.face.engine import InsightfacePack, SFacePack, enroll, verify
from app.face.packs import fetch_models
from tests.face.support import photo


@pytest.fixture
def empty_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    # insightface's default root is ~/.insightface: an empty home shows that nothing reads or writes there.
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.mark.parametrize("pack", ["sface", "buffalo_s"])
def test_engines_load_and_run_without_network(
    model_dir: Path, pack: str, no_network: list[object], no_pip: list[object], empty_home: Path
) -> None:
    assert fetch_models(model_dir, (pack,)).packs[0].status == "present"
    # New instances, not load_engine's cached ones: the loading itself must happen offline.
    engine = SFacePack(model_dir) if pack == "sface" else InsightfacePack(model_dir, pack)
    reference = enroll(engine, photo("person_a_1")).embedding
    assert reference is not None
    assert verify(engine, photo("person_a_2"), reference).match
    assert no_network == [] and no_pip == []
    assert list(empty_home.iterdir()) == []


def test_the_block_really_blocks(no_network: list[object]) -> None:
    import socket

    with pytest.raises(OSError, match="network blocked"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    assert no_network == [("127.0.0.1", 9)]
