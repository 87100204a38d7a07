"""Finishing: post_finish's contract, a finish that failed half-way, leftover locks after a crash."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.adapters.local import LocalUploadStore
from app.adapters.upload_store import StoredUpload, UploadStoreError
from app.clock import FakeClock
from app.uploads import SqlUploadState, TusApp, TusError, Upload, errors
from tests.uploads.flows import TEST_CONFIG, Rules, client_for, create, make_app, offset_of, patch, upload_id

pytestmark = pytest.mark.anyio


class FlakyFinish(LocalUploadStore):
    """A local store whose finish fails until told otherwise (S3 down at the worst moment)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.broken = True

    async def finish(self, upload: StoredUpload) -> dict[str, Any]:
        if self.broken:
            raise UploadStoreError("store down")
        return await super().finish(upload)


async def test_a_failed_finish_is_retried_by_the_client_or_the_sweep(
    rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    store = FlakyFinish(tmp_path / "objects")
    tus = TusApp(hooks=rules.hooks(), config=TEST_CONFIG, clock=clock, state=SqlUploadState(sessionmaker), store=store)
    async with client_for(make_app(tus)) as client:
        first, second = await create(client, 3), await create(client, 3)
        for url in (first, second):
            response = await patch(client, url, 0, b"abc")
            assert response.status_code == 503  # the bytes are committed, the finish is not
            assert await offset_of(client, url) == 3
        assert rules.finished == []
        assert await tus.finish_pending() == []  # still broken: nothing finished, nothing lost

        store.broken = False
        # The client retries its last PATCH (an empty one at the final offset) ...
        assert (await patch(client, first, 3, b"")).status_code == 204
        # ... or the scheduler's sweep finishes what nobody asks about.
        assert await tus.finish_pending() == [upload_id(second)]
        assert await tus.finish_pending() == []
    assert sorted(u.id for u in rules.finished) == sorted([upload_id(first), upload_id(second)])
    assert {u.sha256 for u in rules.finished} == {hashlib.sha256(b"abc").hexdigest()}


async def test_a_complete_upload_never_expires_while_its_finish_is_pending(
    rules: Rules, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """All bytes in before the deadline, the store down at the last byte until after it: the bytes are kept, the
    sweep finishes the upload later, and it records when the last byte arrived (not when it was finished)."""
    store = FlakyFinish(tmp_path / "objects")
    tus = TusApp(hooks=rules.hooks(), config=TEST_CONFIG, clock=clock, state=SqlUploadState(sessionmaker), store=store)
    deadline = clock.now() + timedelta(minutes=5)
    rules.expires_at = deadline
    async with client_for(make_app(tus)) as client:
        complete, partial = await create(client, 3), await create(client, 3)
        assert (await patch(client, complete, 0, b"abc")).status_code == 503
        assert (await patch(client, partial, 0, b"ab")).status_code == 204
        last_byte_at = clock.now()
        clock.set(deadline + timedelta(minutes=1))
        assert await tus.expire_uploads() == [upload_id(partial)]  # bytes missing: expired
        assert await offset_of(client, complete) == 3  # all in: still there (HEAD answers, no 410)
        store.broken = False
        assert await tus.finish_pending() == [upload_id(complete)]
    (finished,) = rules.finished
    assert finished.completed_at == last_byte_at and finished.finished_at == deadline + timedelta(minutes=1)
    assert (tmp_path / "objects" / finished.storage_key).read_bytes() == b"abc"


async def test_post_finish_refusal_is_the_answer_and_other_errors_are_not(
    client: httpx.AsyncClient, rules: Rules, tus: TusApp
) -> None:
    seen: list[Upload] = []

    async def refuse(upload: Upload) -> None:
        seen.append(upload)
        raise TusError(errors.ErrorSpec(422, "recording_unreadable", "Not a WebM", "录像文件无法识别"))

    async def crash(upload: Upload) -> None:
        seen.append(upload)
        raise RuntimeError("bug in verification")

    tus.hooks = replace(tus.hooks, post_finish=refuse)
    url = await create(client, 3)
    response = await patch(client, url, 0, b"abc")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "recording_unreadable"
    assert await offset_of(client, url) == 3  # its bytes are safe all the same

    tus.hooks = replace(tus.hooks, post_finish=crash)
    url = await create(client, 3)
    assert (await patch(client, url, 0, b"abc")).status_code == 204
    assert [u.finished_at is not None for u in seen] == [True, True]


async def test_release_stale_locks_after_a_crash(
    client: httpx.AsyncClient, tus: TusApp, clock: FakeClock, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    url = await create(client, 3)
    now = clock.now()
    state = SqlUploadState(sessionmaker)
    assert await state.acquire(upload_id(url), "killed-process", now=now, lease_until=now + timedelta(seconds=20))
    assert await tus.release_stale_locks() == 1
    assert (await patch(client, url, 0, b"abc")).status_code == 204
    assert await tus.release_stale_locks() == 0


async def test_not_attached_answers_503(rules: Rules, clock: FakeClock) -> None:
    tus = TusApp(hooks=rules.hooks(), config=TEST_CONFIG, clock=clock)
    async with client_for(make_app(tus)) as client:
        response = await client.post("/api/v1/uploads/", headers={"Upload-Length": "3"})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "uploads_unavailable"


async def test_lookups_for_the_application(client: httpx.AsyncClient, tus: TusApp, tmp_path: Path) -> None:
    url = await create(client, 3, **{"Upload-Metadata": "subject c2l0dGluZzoxOm1haW4="})
    await patch(client, url, 0, b"abc")
    upload = await tus.find(subject="sitting:1:main")
    assert upload is not None and upload.id == upload_id(url) and upload.owner == "phone-1"
    assert await tus.find(owner="phone-2") is None
    path = tus.local_path(upload)
    assert path is not None and path.read_bytes() == b"abc"
    assert b"".join([c async for c in tus.read(upload, 1)]) == b"bc"
