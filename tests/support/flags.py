"""Shared by the flags tests: a formal sitting answered by two phones (real sockets, the scheduler's tick, the fake
clock), its recordings sent over tus and verified by PyAV, and the staff views of its flags."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from httpx_ws import AsyncWebSocketSession

from tests.support.api import Api
from tests.support.realtime import ENDS, Scene, move, scene, to_answering, to_ready
from tests.support.ws import next_message, phone, ws_client

V1 = "/api/v1"
TUS = {"Tus-Resumable": "1.0.0"}


async def upload(api: Api, token: str, data: bytes) -> None:
    """A phone's whole recording in one PATCH, and the wait for its verification."""
    created = await api.request("POST", f"{V1}/uploads/", token, headers={**TUS, "Upload-Defer-Length": "1"})
    assert created.status_code == 201, created.text
    headers = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0", "Upload-Length": str(len(data))}
    sent = await api.request("PATCH", created.headers["Location"], token, headers=headers, content=data)
    assert sent.status_code == 204, sent.text
    await api.settled(token)


@dataclass
class Answering:
    api: Api
    s: Scene
    main: AsyncWebSocketSession
    aux: AsyncWebSocketSession

    @property
    def sitting_id(self) -> str:
        return self.s.seat.sitting_id

    async def at(self, when: datetime) -> None:
        """Move the clock with both phones heartbeating, and tick the scheduler."""
        await move(self.api, when, self.main, self.aux)

    async def flags(self, token: str | None = None) -> dict[str, Any]:
        return await self.api.ok("GET", f"{V1}/ops/sittings/{self.sitting_id}/flags", token or self.s.ops)


@asynccontextmanager
async def answering(api: Api, candidates: int = 1, **exam_fields: Any) -> AsyncIterator[Answering]:
    """The first candidate's sitting answering (at STARTS) with both phones connected."""
    s = await scene(api, candidates=candidates, **exam_fields)
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main, phone(client, s.seat.aux) as aux:
        await next_message(main)
        await next_message(aux)
        await to_ready(api, s.seat.sitting_id, main, aux)
        await to_answering(api, main, aux)
        yield Answering(api, s, main, aux)


async def recorded(a: Answering, main: bytes, aux: bytes | None = None) -> None:
    """The answering over (a few seconds after its end), then the phones' recordings sent and verified."""
    await a.at(ENDS + timedelta(seconds=5))
    await upload(a.api, a.s.seat.main, main)
    if aux is not None:
        await upload(a.api, a.s.seat.aux, aux)


def by_role(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The analysis jobs of a flags answer, by phone."""
    return {job["role"]: job for job in body["analysis"]}


def of_source(body: dict[str, Any], source: str) -> list[dict[str, Any]]:
    return [f for f in body["flags"] if f["source"] == source]
