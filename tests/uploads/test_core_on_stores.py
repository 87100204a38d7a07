"""The core flows once per store: local files and S3 (SeaweedFS). Same requests, same answers, same bytes."""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import timedelta

import httpx
import pytest

from app.clock import FakeClock
from app.uploads import TusApp
from tests.uploads.flows import MOUNT, OCTET, Rules, Trickle, checksum, create, offset_of, patch, upload_id

pytestmark = pytest.mark.anyio
MiB = 1024 * 1024


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.slow)])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def read_back(tus: TusApp, url: str) -> bytes:
    await tus.settled()  # on S3 the finish runs after the last PATCH's answer
    upload = await tus.get(upload_id(url))
    assert upload is not None and upload.finished_at is not None
    return b"".join([chunk async for chunk in tus.read(upload)])


async def test_upload_in_chunks_across_parts(client: httpx.AsyncClient, tus: TusApp, rules: Rules) -> None:
    data = os.urandom(6 * MiB + 99)
    url = await create(client, len(data), **{"Upload-Metadata": "filename bWFpbi53ZWJt"})
    offset = 0
    for size in (2 * MiB, 3 * MiB, 1, MiB + 98):
        response = await patch(client, url, offset, data[offset : offset + size])
        assert response.status_code == 204
        offset = int(response.headers["upload-offset"])
        assert await offset_of(client, url) == offset
    assert offset == len(data)
    await tus.settled()
    (finished,) = rules.finished
    assert finished.sha256 == hashlib.sha256(data).hexdigest()
    assert finished.metadata == {"filename": "main.webm"}
    assert await read_back(tus, url) == data


async def test_deferred_length_ended_by_an_empty_patch(client: httpx.AsyncClient, tus: TusApp, rules: Rules) -> None:
    chunks = [os.urandom(700 * 1024) for _ in range(4)]  # ~2 s MediaRecorder chunks
    url = await create(client, None)
    offset = 0
    for chunk in chunks:
        offset = int((await patch(client, url, offset, chunk)).headers["upload-offset"])
    request = client.build_request("PATCH", url, headers={"Upload-Offset": str(offset), "Upload-Length": str(offset)})
    del request.headers["content-length"]
    assert (await client.send(request)).status_code == 204
    assert await read_back(tus, url) == b"".join(chunks)
    assert rules.finished[0].chunk_count == 4


async def test_checksum_mismatch_changes_nothing(client: httpx.AsyncClient, tus: TusApp) -> None:
    data = os.urandom(6 * MiB)
    url = await create(client, len(data))
    first, second = data[: 4 * MiB], data[4 * MiB :]
    assert (await patch(client, url, 0, first, **{"Upload-Checksum": checksum("sha256", first)})).status_code == 204
    wrong = await patch(client, url, len(first), second, **{"Upload-Checksum": checksum("sha1", b"not this")})
    assert wrong.status_code == 460
    assert await offset_of(client, url) == len(first)
    assert (await patch(client, url, len(first), second, **{"Upload-Checksum": checksum("sha1", second)})).status_code == 204
    assert await read_back(tus, url) == data


async def test_creation_with_upload_then_patch(client: httpx.AsyncClient, tus: TusApp) -> None:
    data = os.urandom(MiB)
    response = await client.post(f"{MOUNT}/", content=data[:1000], headers={**OCTET, "Upload-Length": str(len(data))})
    assert response.status_code == 201
    assert response.headers["upload-offset"] == "1000"
    url = response.headers["location"]
    assert (await patch(client, url, 1000, data[1000:])).status_code == 204
    assert await read_back(tus, url) == data


async def test_body_longer_than_length_and_offsets_past_the_end(client: httpx.AsyncClient, tus: TusApp) -> None:
    url = await create(client, 10)
    assert (await patch(client, url, 0, b"0123456789AB")).status_code == 413
    assert (await patch(client, url, 12, b"x")).status_code == 409
    assert await offset_of(client, url) == 0
    assert (await patch(client, url, 0, b"0123456789")).status_code == 204
    assert await read_back(tus, url) == b"0123456789"


async def test_termination_and_expiry(client: httpx.AsyncClient, tus: TusApp, rules: Rules, clock: FakeClock) -> None:
    rules.expires_at = clock.now() + timedelta(minutes=30)
    terminated = await create(client, 20)
    expiring = await create(client, 20)
    for url in (terminated, expiring):
        await patch(client, url, 0, b"0123456789")
    assert (await client.delete(terminated)).status_code == 204
    assert (await client.head(terminated)).status_code == 410
    clock.advance(minutes=30)
    assert (await patch(client, expiring, 10, b"x")).status_code == 410
    assert await tus.expire_uploads() == [upload_id(expiring)]
    assert (await client.head(expiring)).status_code == 410


async def test_preempted_patch_keeps_its_bytes(client: httpx.AsyncClient, tus: TusApp) -> None:
    head = os.urandom(64 * 1024)
    rest = os.urandom(64 * 1024)
    url = await create(client, len(head) + len(rest))
    body = Trickle(head, b"never")
    stale = asyncio.create_task(client.patch(url, content=body, headers={**OCTET, "Upload-Offset": "0"}))
    await asyncio.wait_for(body.sent_head.wait(), 5)
    await asyncio.sleep(0.05)
    assert (await asyncio.wait_for(patch(client, url, 0, head + rest), 10)).status_code == 409
    assert (await asyncio.wait_for(stale, 10)).headers["upload-offset"] == str(len(head))
    assert (await patch(client, url, len(head), rest)).status_code == 204
    assert await read_back(tus, url) == head + rest
    body.release.set()
