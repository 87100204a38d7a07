"""On S3 the finish (the last part, complete, a size check) runs after the last PATCH's answer, in the process that
took the last byte and holds its running sha256; a finish cut short is left to that process for a while, then
any replica's sweep takes it."""

from __future__ import annotations

import asyncio
import hashlib
import os
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.adapters.s3 import S3UploadStore
from app.adapters.upload_store import StoredUpload
from app.clock import FakeClock
from app.uploads import SqlUploadState, TusApp
from tests.support.seaweed import Seaweed
from tests.uploads.flows import TEST_CONFIG, Rules, client_for, create, make_app, offset_of, patch, upload_id

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
MiB = 1024 * 1024


class GatedFinish(S3UploadStore):
    """S3 whose finish waits until the test opens the gate (a slow S3 at the answer's end), counting reads."""

    def __init__(self, url: str) -> None:
        other = S3UploadStore.from_url(url)
        super().__init__(other._s3)
        self.gate = asyncio.Event()
        self.reads = 0

    async def finish(self, upload: StoredUpload) -> dict[str, Any]:
        await self.gate.wait()
        return await super().finish(upload)

    async def read(self, upload: StoredUpload, start: int = 0, end: int | None = None):  # type: ignore[no-untyped-def]
        self.reads += 1
        async for chunk in super().read(upload, start, end):
            yield chunk


async def test_the_last_patch_is_answered_before_the_assembly(
    seaweed: Seaweed, bucket: str, rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    store = GatedFinish(seaweed.url(bucket))
    tus = TusApp(hooks=rules.hooks(), config=TEST_CONFIG, clock=clock, state=SqlUploadState(sessionmaker), store=store)
    data = os.urandom(6 * MiB + 5)
    try:
        async with client_for(make_app(tus)) as client:
            url = await create(client, len(data))
            first = await patch(client, url, 0, data[: 5 * MiB])
            last = await asyncio.wait_for(patch(client, url, 5 * MiB, data[5 * MiB :]), 10)
            assert first.status_code == last.status_code == 204
            assert int(last.headers["upload-offset"]) == len(data)  # every byte is in and durable
            assert rules.finished == []  # not yet assembled
            assert await offset_of(client, url) == len(data)
            again = await patch(client, url, len(data), b"")  # a phone that lost the answer asks again: no wait
            assert again.status_code == 204
            assert await tus.finish_pending() == []  # its own process finishes it

            store.gate.set()
            await tus.settled()
        (finished,) = rules.finished
        assert finished.sha256 == hashlib.sha256(data).hexdigest()
        assert store.reads == 0  # hashed as the chunks came: nothing read back
        assert b"".join([c async for c in tus.read(finished)]) == data
    finally:
        await store.close()


async def test_a_finish_cut_short_is_left_to_its_process_for_a_while_then_any_replica_sweeps_it(
    seaweed: Seaweed, bucket: str, rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    config = replace(TEST_CONFIG, leftover_after_s=120)
    dying = GatedFinish(seaweed.url(bucket))
    other = GatedFinish(seaweed.url(bucket))
    other.gate.set()
    replicas = [TusApp(hooks=rules.hooks(), config=config, clock=clock, state=SqlUploadState(sessionmaker), store=s) for s in (dying, other)]
    data = os.urandom(64 * 1024)
    try:
        async with client_for(make_app(replicas[0])) as client:
            url = await create(client, len(data))
            assert (await patch(client, url, 0, data)).status_code == 204
        await replicas[0].stop()  # killed with its finish still waiting
        assert await replicas[1].finish_pending() == []  # too soon: maybe still in its process's queue
        clock.advance(seconds=121)
        assert await replicas[1].finish_pending() == [upload_id(url)]
        (finished,) = rules.finished
        assert finished.sha256 == hashlib.sha256(data).hexdigest()  # read back once, on the other replica
        assert other.reads == 1
    finally:
        await dying.close()
        await other.close()
