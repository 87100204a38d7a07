"""Creating a recording's tus upload raced through the API (tests/support/concurrency.py), on SQLite and
PostgreSQL: creations of one sitting's role answer one upload, a failed recording is sent again once."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import func, select

from app.models import Recording, UploadRow
from tests.support.api import Api
from tests.support.concurrency import N, at_once, codes
from tests.support.realtime import Scene, scene, to_answering, to_ready
from tests.support.ws import next_message, phone, ws_client

pytestmark = pytest.mark.anyio


def _metadata(**fields: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in fields.items())


TUS = {"Tus-Resumable": "1.0.0"}


def tus_creations(api: Api, token: str, sitting_id: str, n: int = N) -> list[Awaitable[httpx.Response]]:
    """`n` creations of the main recording as the phone app sends them (clients/common/uploader.js)."""
    headers = {
        **TUS,
        "Upload-Defer-Length": "1",
        "Upload-Metadata": _metadata(sitting_id=sitting_id, role="main", filetype="video/webm", filename="main.webm"),
    }
    return [api.request("POST", "/api/v1/uploads/", token, headers=dict(headers)) for _ in range(n)]


async def tus_send(api: Api, token: str, url: str, data: bytes) -> None:
    headers = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0", "Upload-Length": str(len(data))}
    answer = await api.request("PATCH", url, token, headers=headers, content=data)
    assert answer.status_code == 204 and answer.headers["Upload-Offset"] == str(len(data)), answer.text
    await api.settled(token)


async def counts(api: Api) -> tuple[int, int]:
    """(recordings, uploads)."""
    async with api.app.state.sessionmaker() as db:
        recordings = await db.scalar(select(func.count()).select_from(Recording)) or 0
        return recordings, await db.scalar(select(func.count()).select_from(UploadRow)) or 0


@asynccontextmanager
async def answering(api: Api) -> AsyncIterator[Scene]:
    s = await scene(api)
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main, phone(client, s.seat.aux) as aux:
        await next_message(main)
        await next_message(aux)
        await to_ready(api, s.seat.sitting_id, main, aux)
        await to_answering(api, main, aux)
        yield s


async def test_ten_tus_creations_at_once_for_one_recording_answer_one_upload(api: Api) -> None:
    async with answering(api) as s:
        responses = await at_once(*tus_creations(api, s.seat.main, s.seat.sitting_id))

        assert codes(responses) == {(201, None): N}
        (url,) = {r.headers["Location"] for r in responses}
        assert await counts(api) == (1, 1)
        # The upload works: the phone writes to it (and no creation emptied it behind the phone's back).
        await tus_send(api, s.seat.main, url, b"x" * 100)
        head = await api.request("HEAD", url, s.seat.main, headers=TUS)
        assert head.headers["Upload-Offset"] == "100"


async def test_ten_creations_at_once_of_a_failed_recording_send_it_again_once(api: Api) -> None:
    async with answering(api) as s:
        (created,) = await at_once(*tus_creations(api, s.seat.main, s.seat.sitting_id, 1))
        first = created.headers["Location"]
        await tus_send(api, s.seat.main, first, b"this is not a video " * 50)
        (mine,) = [r for r in (await api.ok("GET", "/api/v1/device/sitting", s.seat.main))["recordings"] if r["role"] == "main"]
        assert mine["status"] == "failed"

        responses = await at_once(*tus_creations(api, s.seat.main, s.seat.sitting_id))

        assert codes(responses) == {(201, None): N}
        (again,) = {r.headers["Location"] for r in responses}
        assert again != first and await counts(api) == (1, 2)
        recordings = await api.ok("GET", f"/api/v1/ops/sittings/{s.seat.sitting_id}/recordings", s.ops)
        (main_recording,) = [r for r in recordings if r["role"] == "main"]
        assert main_recording["attempts"] == 2 and main_recording["status"] == "receiving"
