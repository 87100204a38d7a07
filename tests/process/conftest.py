"""Real `dualcam serve` processes: one pool per test, every process killed at the end, logs kept per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import Servers


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    pool = Servers(log_dir)
    yield pool
    pool.close()
