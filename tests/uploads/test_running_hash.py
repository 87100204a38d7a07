"""The upload's sha256 kept running across PATCHes (app.uploads.hashes): used at finish only when this process
stored every committed byte; otherwise the upload is read back. Either way the recorded sha256 is the file's."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.adapters.local import LocalUploadStore
from app.adapters.upload_store import WRITE_BATCH, StoredUpload
from app.clock import FakeClock
from app.uploads import SqlUploadState, TusApp
from tests.uploads.flows import TEST_CONFIG, Rules, checksum, client_for, create, make_app, patch

pytestmark = pytest.mark.anyio


class CountingStore(LocalUploadStore):
    """Counts read-backs (the finish's fallback)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads = 0

    async def read(self, upload: StoredUpload, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        self.reads += 1
        async for chunk in super().read(upload, start, end):
            yield chunk


def app_on(rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession], store: LocalUploadStore) -> TusApp:
    return TusApp(hooks=rules.hooks(), config=TEST_CONFIG, clock=clock, state=SqlUploadState(sessionmaker), store=store)


async def send(client: httpx.AsyncClient, url: str, pieces: list[bytes]) -> None:
    offset = 0
    for piece in pieces:
        response = await patch(client, url, offset, piece)
        assert response.status_code == 204, response.text
        offset += len(piece)


async def test_one_process_saw_every_byte_no_read_back(
    rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    store = CountingStore(tmp_path / "objects")
    # Pieces larger than a write buffer, and odd sizes, so buffers are handed over mid-piece.
    data = bytes(range(256)) * ((3 * WRITE_BATCH) // 256) + b"tail"
    pieces = [data[: WRITE_BATCH + 7], data[WRITE_BATCH + 7 : 2 * WRITE_BATCH + 1000], data[2 * WRITE_BATCH + 1000 :]]
    async with client_for(make_app(app_on(rules, clock, sessionmaker, store))) as client:
        url = await create(client, len(data))
        await send(client, url, pieces)
    (finished,) = rules.finished
    assert finished.sha256 == hashlib.sha256(data).hexdigest()
    assert store.reads == 0
    assert (tmp_path / "objects" / finished.storage_key).read_bytes() == data


async def test_a_refused_chunk_does_not_count(
    rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """A checksum mismatch discards its bytes: they must not end up in the running sha256 either."""
    store = CountingStore(tmp_path / "objects")
    async with client_for(make_app(app_on(rules, clock, sessionmaker, store))) as client:
        url = await create(client, 6)
        assert (await patch(client, url, 0, b"abc")).status_code == 204
        bad = await patch(client, url, 3, b"XYZ", **{"Upload-Checksum": checksum("sha256", b"def")})
        assert bad.status_code == 460
        good = await patch(client, url, 3, b"def", **{"Upload-Checksum": checksum("sha1", b"def")})
        assert good.status_code == 204
    (finished,) = rules.finished
    assert finished.sha256 == hashlib.sha256(b"abcdef").hexdigest()
    assert store.reads == 1  # the discarded chunk cost the shortcut: read back once


async def test_bytes_written_by_another_replica_are_read_back(
    rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    store = CountingStore(tmp_path / "objects")
    a, b = app_on(rules, clock, sessionmaker, store), app_on(rules, clock, sessionmaker, store)
    async with client_for(make_app(a)) as on_a, client_for(make_app(b)) as on_b:
        url = await create(on_a, 9)
        assert (await patch(on_a, url, 0, b"abc")).status_code == 204
        assert (await patch(on_b, url, 3, b"def")).status_code == 204
        # A's running sha256 covers "abc" only: its chain no longer matches the committed one.
        assert (await patch(on_a, url, 6, b"ghi")).status_code == 204
    (finished,) = rules.finished
    assert finished.sha256 == hashlib.sha256(b"abcdefghi").hexdigest()
    assert store.reads == 1


async def test_a_deferred_length_set_by_an_empty_patch_keeps_the_shortcut(
    rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """tus-js-client's last PATCH of a recording: no body, only Upload-Length."""
    store = CountingStore(tmp_path / "objects")
    async with client_for(make_app(app_on(rules, clock, sessionmaker, store))) as client:
        url = await create(client, None)
        await send(client, url, [b"chunk-1", b"chunk-2"])
        response = await client.patch(url, headers={"Upload-Offset": "14", "Upload-Length": "14"})
        assert response.status_code == 204
    (finished,) = rules.finished
    assert finished.sha256 == hashlib.sha256(b"chunk-1chunk-2").hexdigest()
    assert store.reads == 0
