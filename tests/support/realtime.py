"""Shared set-up for the realtime tests: one formal session, a confirmed candidate with two phones, and the
steps that take a sitting to `ready` and `answering` with the fake clock and the scheduler's tick."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from httpx_ws import AsyncWebSocketSession

from app.db import transaction
from app.models import Device
from app.services.sitting import presence, sittings
from tests.conftest import T0
from tests.support.api import Api
from tests.support.ws import wait_for

OPENS = T0 + timedelta(hours=1)
STARTS = OPENS + timedelta(minutes=10)
ENDS = STARTS + timedelta(minutes=10)
DEADLINE = ENDS + timedelta(hours=3)
QUESTION = "正式题：谈谈你的职业规划"


@dataclass
class Seat:
    """One candidate of the session: tokens of the candidate and of both phones."""

    candidate: str
    sitting_id: str
    main: str
    aux: str


@dataclass
class Scene:
    ops: str
    exam: dict[str, Any]
    session: dict[str, Any]
    seats: list[Seat]

    @property
    def seat(self) -> Seat:
        return self.seats[0]


async def scene(api: Api, *, candidates: int = 1, **exam_fields: Any) -> Scene:
    """A formal session (OPENS/STARTS/ENDS/DEADLINE) with QUESTION and `candidates` confirmed candidates,
    each with a main and an aux phone logged in. The clock stays where it is (before OPENS)."""
    ops = await api.staff()
    exam = await api.exam(ops, **exam_fields)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    await api.question(ops, session["id"], QUESTION)
    seats = []
    for seq in range(1, candidates + 1):
        _, token = await api.candidate(ops, exam["id"], seq=seq, name=f"考生{seq}")
        await api.confirm(token)
        sitting = await api.sitting_of(token, session["id"])
        main = await api.device(token, sitting["id"], "main")
        aux = await api.device(token, sitting["id"], "aux")
        seats.append(Seat(candidate=token, sitting_id=sitting["id"], main=main, aux=aux))
    return Scene(ops=ops, exam=exam, session=session, seats=seats)


async def face_passed(api: Api, sitting_id: str) -> str:
    """What the face gate does on a pass."""
    timeout = timedelta(seconds=api.app.state.settings.presence_timeout_seconds)
    async with transaction(api.app.state.sessionmaker, api.app.state.hub) as db:
        view = await sittings.load(db, sitting_id=uuid.UUID(sitting_id), now=api.clock.now())
        return await presence.face_passed(db, view=view, now=api.clock.now(), timeout=timeout)


async def alive(*phones: AsyncWebSocketSession, **telemetry: Any) -> None:
    """Heartbeat from each phone at the current (fake) time; the pong is the barrier that it was handled."""
    beat = {"charging": True, "network": "wifi", "visibility": "visible", **telemetry}
    for ws in phones:
        await ws.send_json({"type": "heartbeat", **beat})
        await barrier(ws)


async def barrier(ws: AsyncWebSocketSession) -> dict[str, Any]:
    """A ping answered means every message the phone sent before it was handled (one receive loop per socket)."""
    await ws.send_json({"type": "time.ping", "t0": 0})
    return await wait_for(ws, "time.pong")


async def to_ready(api: Api, sitting_id: str, *phones: AsyncWebSocketSession) -> None:
    """Waiting window open (phase pushed), both phones alive, face gate passed: ready."""
    await move(api, OPENS, *phones)
    for ws in phones:
        await wait_for(ws, "phase", phase="waiting_open")
    api.clock.set(STARTS - timedelta(seconds=20))
    await alive(*phones)
    assert await face_passed(api, sitting_id) == "ready"
    for ws in phones:
        await wait_for(ws, "sitting.state", state="ready")


async def to_answering(api: Api, *phones: AsyncWebSocketSession) -> None:
    """Answer start: phones alive at STARTS, the tick pushes the phase (with the question) to every phone."""
    api.clock.set(STARTS)
    await alive(*phones)
    await api.app.state.scheduler.tick()
    for ws in phones:
        await wait_for(ws, "phase", phase="answer_start")


async def move(api: Api, when: datetime, *phones: AsyncWebSocketSession) -> None:
    """Move the clock; the phones named keep heartbeating (so only the others can go stale); then tick."""
    api.clock.set(when)
    await alive(*phones)
    await api.app.state.scheduler.tick()


async def device_row(api: Api, device_id: str) -> Device:
    async with api.app.state.sessionmaker() as db:
        return await db.get_one(Device, uuid.UUID(device_id))


async def events(api: Api, ops: str, sitting_id: str) -> list[dict[str, Any]]:
    return await api.ok("GET", f"/api/v1/ops/sittings/{sitting_id}/events", ops)


async def ops_sitting(api: Api, ops: str, session_id: str, sitting_id: str) -> dict[str, Any]:
    rows = await api.ok("GET", f"/api/v1/ops/sessions/{session_id}/sittings", ops)
    (row,) = [r for r in rows if r["sitting_id"] == sitting_id]
    return row
