"""The CLI tests' data dirs: a database migrated once per module, copied for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support import databases


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return databases.sqlite_template(tmp_path_factory.mktemp("cli-template"))


@pytest.fixture
def data_dir(migrated: Path, tmp_path: Path) -> Path:
    """A data dir whose database is already at head (`dualcam migrate` itself runs in the demo test)."""
    directory = tmp_path / "var"
    directory.mkdir()
    shutil.copyfile(migrated, directory / "dualcam.sqlite3")
    return directory
