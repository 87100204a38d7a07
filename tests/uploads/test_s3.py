"""The S3 stores against a real S3 server (SeaweedFS): staging below the part minimum, any replica continuing any
upload, clean-up on finish, termination and expiry, errors mapped at the boundary."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.adapters.s3 import MIN_PART_SIZE, S3Error, S3ObjectStore, S3UploadStore
from app.adapters.factory import open_object_store, open_upload_store
from app.adapters.storage import ObjectNotFound
from app.adapters.upload_store import NotReadable, StoredUpload
from app.clock import FakeClock
from app.uploads import SqlUploadState, TusApp
from tests.support.seaweed import Seaweed
from tests.uploads.flows import TEST_CONFIG, Rules, checksum, client_for, create, make_app, offset_of, patch, upload_id

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
MiB = 1024 * 1024


async def bucket_contents(server: Seaweed, bucket: str) -> tuple[list[str], list[str]]:
    """(object keys, keys of unfinished multipart uploads) in the bucket."""
    from app.adapters.s3 import _botocore_session

    async with _botocore_session().create_client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    ) as s3:
        listed = await s3.list_objects_v2(Bucket=bucket)
        uploads = await s3.list_multipart_uploads(Bucket=bucket)
    return sorted(o["Key"] for o in listed.get("Contents", [])), sorted(u["Key"] for u in uploads.get("Uploads", []))


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_object_store_roundtrip(seaweed: Seaweed, bucket: str) -> None:
    store = open_object_store(seaweed.url(bucket))
    assert isinstance(store, S3ObjectStore)
    try:
        await store.ping()
        await store.put("photos/a.jpg", b"jpeg bytes", content_type="image/jpeg")
        assert await store.get("photos/a.jpg") == b"jpeg bytes"
        await store.delete("photos/a.jpg")
        await store.delete("photos/a.jpg")  # idempotent
        with pytest.raises(ObjectNotFound):
            await store.get("photos/a.jpg")
        with pytest.raises(ValueError):
            await store.put("../escape", b"")
    finally:
        await store.close()


async def test_wrong_secret_and_missing_bucket_are_s3_errors(seaweed: Seaweed, bucket: str) -> None:
    for url in (seaweed.url(bucket, secret_key="wrong-secret"), seaweed.url("no-such-bucket-here")):
        store = S3ObjectStore.from_url(url)
        try:
            with pytest.raises(S3Error):
                await store.ping()
        finally:
            await store.close()


async def test_credentials_from_the_environment(seaweed: Seaweed, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed.secret_key)
    store = S3ObjectStore.from_url(f"s3://{bucket}/some/prefix?endpoint={seaweed.endpoint}&region={seaweed.region}")
    try:
        await store.put("k", b"v")
        assert await store.get("k") == b"v"
    finally:
        await store.close()
    assert (await bucket_contents(seaweed, bucket))[0] == ["some/prefix/k"]


async def test_upload_store_stages_below_the_part_minimum(seaweed: Seaweed, bucket: str) -> None:
    store = open_upload_store(seaweed.url(bucket))
    assert isinstance(store, S3UploadStore)
    data = os.urandom(12 * MiB + 12345)
    try:
        upload = StoredUpload(key="uploads/u1", offset=0, length=len(data), state=await store.create("uploads/u1"))
        steps = [3 * MiB, 3 * MiB, 1, 5 * MiB, len(data) - 11 * MiB - 1]
        for size in steps:
            chunk = data[upload.offset : upload.offset + size]
            result = await store.write(upload, pieces(chunk, 64 * 1024))
            assert result.written == len(chunk)
            # A write that is then refused (checksum mismatch) leaves the committed state as it was.
            refused = await store.write(
                StoredUpload(upload.key, upload.offset + size, upload.length, result.state), pieces(b"junk", 2)
            )
            await store.discard(StoredUpload(upload.key, upload.offset + size, upload.length, result.state), refused)
            committed = StoredUpload(upload.key, upload.offset + size, upload.length, result.state)
            await store.committed(upload, committed)
            upload = committed
            state: dict[str, Any] = dict(upload.state)
            assert sum(p["size"] for p in state["parts"]) + sum(s["size"] for s in state["staged"]) == upload.offset
            assert all(p["size"] == MIN_PART_SIZE for p in state["parts"])
            assert sum(s["size"] for s in state["staged"]) < MIN_PART_SIZE
            keys, _ = await bucket_contents(seaweed, bucket)
            assert keys == sorted(s["key"] for s in state["staged"])  # consumed and refused leftovers are gone
        with pytest.raises(NotReadable):
            [chunk async for chunk in store.read(upload)]
        upload = StoredUpload(upload.key, upload.offset, upload.length, await store.finish(upload))
        assert await store.finish(upload) == dict(upload.state)  # idempotent
        assert (await store.info(upload)).size == len(data)
        back = b"".join([chunk async for chunk in store.read(upload)])
        assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
        assert b"".join([c async for c in store.read(upload, 5 * MiB - 3, 5 * MiB + 3)]) == data[5 * MiB - 3 : 5 * MiB + 3]
        assert await bucket_contents(seaweed, bucket) == (["uploads/u1"], [])
        await store.terminate(upload)
        assert await bucket_contents(seaweed, bucket) == ([], [])
    finally:
        await store.close()


@pytest.fixture
async def replicas(
    seaweed: Seaweed, bucket: str, rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[TusApp, TusApp]]:
    """Two app instances: separate S3 clients and lock registries, one database, one bucket."""
    apps = tuple(
        TusApp(
            hooks=rules.hooks(),
            config=TEST_CONFIG,
            clock=clock,
            state=SqlUploadState(sessionmaker),
            store=open_upload_store(seaweed.url(bucket)),
        )
        for _ in range(2)
    )
    yield apps  # type: ignore[misc]
    for app in apps:
        await app.store.close()


async def test_any_replica_continues_any_upload(
    replicas: tuple[TusApp, TusApp], rules: Rules, seaweed: Seaweed, bucket: str
) -> None:
    data = os.urandom(12 * MiB + 777)
    chunk = 1536 * 1024  # 1.5 MiB: parts fill across PATCHes that landed on different replicas
    async with client_for(make_app(replicas[0])) as a, client_for(make_app(replicas[1])) as b:
        url = await create(a, None)
        offset, turn = 0, 0
        while offset < len(data):
            client = (a, b)[turn % 2]
            piece = data[offset : offset + chunk]
            if turn == 3:  # a corrupted chunk on the way: refused, and the upload goes on where it was
                bad = await patch(client, url, offset, piece, **{"Upload-Checksum": checksum("sha256", piece[::-1])})
                assert bad.status_code == 460
            last = offset + len(piece) == len(data)
            extra = {"Upload-Length": str(len(data))} if last else {}
            response = await patch(client, url, offset, piece, **{"Upload-Checksum": checksum("sha1", piece), **extra})
            assert response.status_code == 204, response.text
            offset = int(response.headers["upload-offset"])
            assert await offset_of((b, a)[turn % 2], url) == offset  # the other replica sees it at once
            turn += 1
        for replica in replicas:
            await replica.settled()  # the finish runs after the last PATCH's answer

    (finished,) = rules.finished
    assert finished.sha256 == hashlib.sha256(data).hexdigest()
    back = b"".join([c async for c in replicas[1].read(finished)])
    assert back == data
    assert await bucket_contents(seaweed, bucket) == ([f"uploads/{upload_id(url)}"], [])


async def test_terminate_and_expire_leave_nothing_in_s3(
    replicas: tuple[TusApp, TusApp], rules: Rules, clock: FakeClock, seaweed: Seaweed, bucket: str
) -> None:
    tus = replicas[0]
    rules.expires_at = clock.now() + timedelta(minutes=30)
    data = os.urandom(6 * MiB)
    async with client_for(make_app(tus)) as client:
        doomed = await create(client, len(data) * 2)
        expiring = await create(client, len(data) * 2)
        for url in (doomed, expiring):
            assert (await patch(client, url, 0, data)).status_code == 204  # one part + a staged leftover each
        keys, mpus = await bucket_contents(seaweed, bucket)
        assert len(keys) == 2 and len(mpus) == 2
        assert (await client.delete(doomed)).status_code == 204
        clock.advance(minutes=31)
        assert await tus.expire_uploads() == [upload_id(expiring)]
    assert await bucket_contents(seaweed, bucket) == ([], [])


async def test_unreachable_s3_answers_503(rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    store = open_upload_store(
        "s3://nowhere?endpoint=http://127.0.0.1:9&region=us-east-1&access_key=a&secret_key=b&max_attempts=1"
    )
    tus = TusApp(hooks=rules.hooks(), config=TEST_CONFIG, clock=clock, state=SqlUploadState(sessionmaker), store=store)
    async with client_for(make_app(tus)) as client:
        url = await create(client, 10 * MiB)
        response = await patch(client, url, 0, os.urandom(6 * MiB))
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "upload_store_unavailable"
        assert await offset_of(client, url) == 0
    await store.close()
