"""Playback copies: a verified recording streamed live by MediaRecorder (no duration, no cues) gets a copy with both,
remuxed by PyAV without re-encoding, which the watch link serves with Range; the download link gives the untouched
original, whose sha256 is the evidence. Recordings verified before copies existed get theirs from the scheduler."""

from __future__ import annotations

import hashlib
import io

import av
import pytest
from sqlalchemy import update

from app.models import Recording
from tests.api.test_recordings import answering
from tests.support.api import Api
from tests.support.media import webm
from tests.support.realtime import ENDS

pytestmark = pytest.mark.anyio

LIVE_VIDEO = webm(seconds=4.0, live=True)
CUES = b"\x1c\x53\xbb\x6b"  # the Matroska Cues element: what a player seeks with


def duration(data: bytes) -> int | None:
    with av.open(io.BytesIO(data)) as container:
        return container.duration


def packets(data: bytes) -> list[tuple[int, int | None, bytes]]:
    with av.open(io.BytesIO(data)) as container:
        return [(p.stream.index, p.pts, bytes(p)) for p in container.demux() if p.dts is not None]


async def test_a_verified_recording_gets_a_seekable_copy_and_keeps_its_original(api: Api) -> None:
    assert duration(LIVE_VIDEO) is None and CUES not in LIVE_VIDEO  # as a phone sends it
    async with answering(api) as a:
        await a.at(ENDS)
        await a.tus.send(a.s.seat.main, LIVE_VIDEO)
        await api.app.state.playback.settled()
        main = (await a.recordings())["main"]
        assert main["playback"] is True and main["sha256"] == hashlib.sha256(LIVE_VIDEO).hexdigest()

        copy = await api.client.get(main["url"])
        assert copy.status_code == 200 and copy.headers["content-type"] == "video/webm"
        assert copy.headers["content-disposition"].startswith("inline")
        assert duration(copy.content) is not None and abs(duration(copy.content) / 1e6 - 4.0) < 0.5
        assert CUES in copy.content
        assert packets(copy.content) == packets(LIVE_VIDEO)  # the same packets: remuxed, not re-encoded
        part = await api.client.get(main["url"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == copy.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(copy.content)}"

        original = await api.client.get(main["original_url"])
        assert original.status_code == 200 and original.content == LIVE_VIDEO
        assert original.headers["content-disposition"].startswith("attachment")
        forged = await api.client.get(main["original_url"].replace("signature=", "signature=0"))
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "recording_link_invalid"


async def test_recordings_verified_before_copies_existed_get_theirs_from_the_scheduler(api: Api) -> None:
    async with answering(api) as a:
        await a.at(ENDS)
        await a.tus.send(a.s.seat.main, LIVE_VIDEO)
        await api.app.state.playback.settled()
        async with api.app.state.sessionmaker() as db:  # as a recording verified by an earlier version was
            await db.execute(update(Recording).values(playback_key=None, playback_size=None, playback_state=None, playback_of=None))
            await db.commit()
        before = (await a.recordings())["main"]
        assert before["playback"] is False
        assert (await api.client.get(before["url"])).content == LIVE_VIDEO  # meanwhile the original plays

        await api.app.state.scheduler.tick()  # left to the process that verified it a while
        assert (await a.recordings())["main"]["playback"] is False
        api.clock.advance(minutes=10)
        await api.app.state.scheduler.tick()
        after = (await a.recordings())["main"]
        assert after["playback"] is True
        assert CUES in (await api.client.get(after["url"])).content
