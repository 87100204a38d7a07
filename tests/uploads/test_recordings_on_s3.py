"""The recording tests of tests/api/test_recordings.py once more with the whole app on S3 (SeaweedFS): uploads as
multipart with staged leftovers, the probe reading the object back from S3, the signed links streaming ranges from it,
expiry aborting the multipart upload."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.config import Settings
from app.models import Recording
from app.services.recordings.playback import PlaybackCopies
from tests.api.test_recordings import (  # noqa: F401  (collected again here, on S3)
    test_a_recording_that_does_not_parse_fails_and_may_be_sent_again,
    test_at_the_deadline_a_missing_recording_makes_the_sitting_incomplete_and_the_partial_upload_expires,
    test_both_recordings_verified_make_the_sitting_uploaded,
    test_reviewers_watch_through_short_lived_signed_links,
)
from tests.api.test_playback import (  # noqa: F401  (the playback copies in the upload store, on S3)
    test_a_verified_recording_gets_a_seekable_copy_and_keeps_its_original,
    test_recordings_verified_before_copies_existed_get_theirs_from_the_scheduler,
)
from tests.api.test_playback import CUES, LIVE_VIDEO, packets
from tests.api.test_recordings import MAIN_VIDEO, answering
from tests.support.api import Api
from tests.support.realtime import ENDS
from tests.support.seaweed import Seaweed
from tests.uploads.flows import create_bucket

pytestmark = pytest.mark.anyio


@pytest.fixture
async def settings(database_url: str, tmp_path: Path, seaweed: Seaweed) -> Settings:
    bucket = f"rec-{uuid.uuid4().hex[:16]}"
    await create_bucket(seaweed, bucket)
    return Settings(
        env="test",
        data_dir=tmp_path / "var",
        database_url=database_url,
        storage_url=seaweed.url(bucket),
        redis_url=None,
        scheduler_enabled=False,
        log_json=False,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
    )


async def test_no_recording_byte_lands_on_the_local_disk(api: Api, settings: Settings) -> None:
    async with answering(api) as a:
        await a.at(ENDS)
        await a.tus.send(a.s.seat.main, MAIN_VIDEO, chunk=64 * 1024)
        link = (await a.recordings())["main"]["original_url"]
        assert (await api.client.get(link)).content == MAIN_VIDEO
    local = [p for p in settings.data_dir.rglob("*") if p.is_file() and p.suffix not in (".sqlite3", ".sqlite3-wal", ".sqlite3-shm")]
    assert [p for p in local if "upload" in str(p) or "probe" in str(p)] == []


async def test_replicas_sharing_a_data_directory_make_the_same_copy_at_once(api: Api, settings: Settings) -> None:
    # On exam day the replica that verified a recording and the scheduler's backfill on another may both make its
    # copy: each works on scratch files of its own in the shared directory.
    async with answering(api) as a:
        await a.at(ENDS)
        await a.tus.send(a.s.seat.main, LIVE_VIDEO)
        await api.app.state.playback.settled()
        async with api.app.state.sessionmaker() as db:
            recording_id = await db.scalar(select(Recording.id))
            await db.execute(update(Recording).values(playback_key=None, playback_size=None, playback_state=None, playback_of=None))
            await db.commit()
        replicas = [
            PlaybackCopies(sessionmaker=api.app.state.sessionmaker, reader=api.app.state.tus, store=api.app.state.tus.store, scratch_dir=settings.data_dir / "tmp" / "playback", clock=api.clock)
            for _ in range(4)
        ]  # fmt: skip
        made = await asyncio.gather(*(r.make(recording_id) for r in replicas))
        assert made == [True] * 4
        main = (await a.recordings())["main"]
        assert main["playback"] is True
        copy = (await api.client.get(main["url"])).content
        assert CUES in copy and packets(copy) == packets(LIVE_VIDEO)
        async with api.app.state.sessionmaker() as db:
            assert (await db.get(Recording, recording_id)).playback_error is None
