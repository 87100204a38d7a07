"""A recording's bytes as a local file for the readers that need one (PyAV): the store's own file when it keeps
local files, else a scratch copy streamed from the store chunk by chunk (never the whole recording in memory)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import anyio

from app.uploads import Upload


class UploadBytes(Protocol):
    """Where an upload's bytes are (app.uploads.TusApp, app.uploads.UploadFiles)."""

    def local_path(self, upload: Upload) -> Path | None:
        """The upload's file when the store keeps it locally; None for a remote store."""
        ...

    def read(self, upload: Upload) -> AsyncIterator[bytes]: ...


def scratch_path(scratch_dir: Path, name: str, suffix: str) -> Path:
    """A file of its own in a scratch directory that replicas share (one data directory): two of them, or two
    passes of one, may work on the same recording at once, and must not write, or remove, each other's file."""
    return scratch_dir / f"{name}-{secrets.token_hex(6)}{suffix}"


@contextlib.asynccontextmanager
async def local_copy(reader: UploadBytes, upload: Upload, scratch_dir: Path) -> AsyncIterator[Path]:
    """The upload as a local file: in place for the local store, else a scratch copy (removed afterwards)."""
    local = reader.local_path(upload)
    if local is not None:
        yield local
        return
    path = scratch_path(scratch_dir, upload.id, ".bin")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        async with await anyio.open_file(path, "wb") as out:
            async for chunk in reader.read(upload):
                await out.write(chunk)
        yield path
    finally:
        path.unlink(missing_ok=True)
