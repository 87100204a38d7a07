"""The write lock: a stale PATCH never blocks the resumed one for long (preemption, idle timeout, lease expiry),
across two app instances sharing the database as well as within one."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.adapters.local import LocalUploadStore
from app.clock import FakeClock
from app.uploads import SqlUploadState, TusApp
from tests.uploads.flows import (
    OCTET,
    TEST_CONFIG,
    Rules,
    Trickle,
    checksum,
    client_for,
    create,
    make_app,
    offset_of,
    patch,
    upload_id,
)

pytestmark = pytest.mark.anyio


def stored(tmp_path: Path, url: str) -> bytes:
    return (tmp_path / "objects" / "uploads" / upload_id(url)).read_bytes()


async def start_stalled_patch(
    client: httpx.AsyncClient, url: str, offset: int, body: Trickle, **headers: str
) -> asyncio.Task[httpx.Response]:
    """A PATCH that sent its first bytes and then went quiet (a phone that switched networks)."""
    task = asyncio.create_task(client.patch(url, content=body, headers={**OCTET, "Upload-Offset": str(offset), **headers}))
    await asyncio.wait_for(body.sent_head.wait(), 5)
    await asyncio.sleep(0.05)  # the server has read it
    return task


async def test_new_patch_preempts_a_stalled_one_in_the_same_process(client: httpx.AsyncClient, tmp_path: Path) -> None:
    url = await create(client, 12)
    stale_body = Trickle(b"abcd", b"never sent")
    stale = await start_stalled_patch(client, url, 0, stale_body)
    assert await offset_of(client, url) == 0  # its bytes are not committed yet

    # The resumed client's PATCH (it read offset 0 before) takes over: the stale one keeps what it received.
    resumed = await asyncio.wait_for(patch(client, url, 0, b"abcdefgh"), 5)
    assert resumed.status_code == 409  # the offset moved under it: HEAD again
    stale_response = await asyncio.wait_for(stale, 5)
    assert stale_response.status_code == 204
    assert stale_response.headers["upload-offset"] == "4"

    assert await offset_of(client, url) == 4
    assert (await patch(client, url, 4, b"efghijkl")).headers["upload-offset"] == "12"
    assert stored(tmp_path, url) == b"abcdefghijkl"
    stale_body.release.set()


async def test_preempted_chunk_with_checksum_is_dropped(client: httpx.AsyncClient, tmp_path: Path) -> None:
    """A checksum covers the whole chunk: a cut-off one cannot be kept, the newcomer writes at the old offset."""
    url = await create(client, 8)
    stale_body = Trickle(b"abcd", b"efgh")
    stale = await start_stalled_patch(client, url, 0, stale_body, **{"Upload-Checksum": checksum("sha1", b"abcdefgh")})
    resumed = await asyncio.wait_for(patch(client, url, 0, b"abcdefgh"), 5)
    assert resumed.status_code == 204
    assert resumed.headers["upload-offset"] == "8"
    assert (await asyncio.wait_for(stale, 5)).status_code == 423
    assert stored(tmp_path, url) == b"abcdefgh"
    stale_body.release.set()


async def test_quiet_body_times_out_and_keeps_what_arrived(
    rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    config = replace(TEST_CONFIG, body_idle_timeout_s=0.2)
    tus = TusApp(
        hooks=rules.hooks(),
        config=config,
        clock=clock,
        state=SqlUploadState(sessionmaker),
        store=LocalUploadStore(tmp_path / "objects"),
    )
    async with client_for(make_app(tus)) as client:
        url = await create(client, 10)
        body = Trickle(b"abc", b"never")
        response = await asyncio.wait_for(client.patch(url, content=body, headers={**OCTET, "Upload-Offset": "0"}), 5)
        assert response.status_code == 204
        assert response.headers["upload-offset"] == "3"
        assert await offset_of(client, url) == 3
        body.release.set()


async def test_two_instances_preempt_through_the_database(
    rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """Replica B asks replica A's stalled PATCH to let go (lock_release_requested); A sees it at its heartbeat."""
    store = LocalUploadStore(tmp_path / "objects")
    a = TusApp(hooks=rules.hooks(), config=TEST_CONFIG, clock=clock, state=SqlUploadState(sessionmaker), store=store)
    b = TusApp(hooks=rules.hooks(), config=TEST_CONFIG, clock=clock, state=SqlUploadState(sessionmaker), store=store)
    async with client_for(make_app(a)) as on_a, client_for(make_app(b)) as on_b:
        url = await create(on_a, 10)
        body = Trickle(b"12345", b"never")
        stale = await start_stalled_patch(on_a, url, 0, body)
        resumed = await asyncio.wait_for(patch(on_b, url, 0, b"12345"), 5)
        assert resumed.status_code == 409
        assert (await asyncio.wait_for(stale, 5)).headers["upload-offset"] == "5"
        assert await offset_of(on_b, url) == 5
        assert (await patch(on_b, url, 5, b"67890")).headers["upload-offset"] == "10"
        assert stored(tmp_path, url) == b"1234567890"
        body.release.set()


async def test_dead_holder_blocks_only_until_its_lease_runs_out(
    client: httpx.AsyncClient, tus: TusApp, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A replica killed mid-PATCH never renews nor answers release requests: 423 until the lease expires."""
    url = await create(client, 6)
    state = SqlUploadState(sessionmaker)
    now = clock.now()
    assert await state.acquire(upload_id(url), "dead-replica", now=now, lease_until=now + timedelta(seconds=60))

    fast = TusApp(
        hooks=tus.hooks,
        config=replace(TEST_CONFIG, lock_wait_s=0.3),
        clock=clock,
        state=state,
        store=tus.store,
    )
    async with client_for(make_app(fast)) as impatient:
        response = await patch(impatient, url, 0, b"abc")
        assert response.status_code == 423
        assert response.json()["error"]["code"] == "upload_locked"
        clock.advance(seconds=61)
        assert (await patch(impatient, url, 0, b"abc")).status_code == 204


async def test_a_holder_that_lost_its_lease_cannot_commit(
    client: httpx.AsyncClient, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    url = await create(client, 6)
    body = Trickle(b"abc", b"def")
    stale = await start_stalled_patch(client, url, 0, body)
    # Its process froze past the lease; another writer took the lock and wrote.
    clock.advance(seconds=61)
    state = SqlUploadState(sessionmaker)
    now = clock.now()
    assert await state.acquire(upload_id(url), "other", now=now, lease_until=now + timedelta(seconds=60))
    response = await asyncio.wait_for(stale, 5)
    assert response.status_code == 423
    assert await offset_of(client, url) == 0
    body.release.set()


async def test_concurrent_patches_for_one_upload_never_interleave(client: httpx.AsyncClient, tmp_path: Path) -> None:
    """Ten clients race at offset 0: exactly the committed bytes are in the file, in order."""
    url = await create(client, 100)
    data = bytes(range(100))
    responses = await asyncio.gather(*(patch(client, url, 0, data[:50]) for _ in range(10)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(204) >= 1
    assert set(statuses) <= {204, 409, 423}
    offset = await offset_of(client, url)
    assert offset == 50
    assert stored(tmp_path, url) == data[:50]


async def test_delete_preempts_a_writer(client: httpx.AsyncClient, tmp_path: Path) -> None:
    url = await create(client, 10)
    body = Trickle(b"abc", b"never")
    stale = await start_stalled_patch(client, url, 0, body)
    assert (await asyncio.wait_for(client.delete(url), 5)).status_code == 204
    await asyncio.wait_for(stale, 5)
    assert (await client.head(url)).status_code == 410
    assert not (tmp_path / "objects" / "uploads" / upload_id(url)).exists()
    body.release.set()
