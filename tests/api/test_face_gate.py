"""The waiting-room face gate and in-exam checks through the API, with the real sface models and the fake clock:
closed before the window, a pass + both phones online → ready, closed from answer start; cool-down after three
counted failures; coaching never counts; in-exam frames become proctoring events."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from httpx_ws import AsyncWebSocketSession
from sqlalchemy import select

from app.config import Settings
from app.models import FaceCheck, FacePurpose
from tests.conftest import T0
from tests.support.api import Api
from tests.support.face import (
    blank,
    candidate_with_photo,
    dark,
    face_models_fixture,  # noqa: F401  (the face_models fixture)
    face_settings,  # noqa: F401  (the settings fixture, with the models)
    object_keys,
    photo,
    selfie,
    side_by_side,
    upload,
)
from tests.support.ws import next_message, phone, wait_for, ws_client

pytestmark = pytest.mark.anyio

OPENS = T0 + timedelta(hours=1)
STARTS = OPENS + timedelta(minutes=10)
ENDS = STARTS + timedelta(minutes=10)
DEADLINE = ENDS + timedelta(hours=3)


async def _seat(api: Api, *, verified: bool = True, id_photo: str = "person_a_1") -> dict[str, Any]:
    """A confirmed candidate (identity verified with person_a_2 unless told otherwise) with both phones logged in."""
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    row, token = await candidate_with_photo(api, ops, exam["id"], id_photo=id_photo)
    if verified:
        assert (await selfie(api, token, photo("person_a_2"))).json()["passed"] is True
    await api.confirm(token)
    sitting = await api.sitting_of(token, session["id"])
    main = await api.device(token, sitting["id"], "main")
    aux = await api.device(token, sitting["id"], "aux")
    return {"ops": ops, "candidate": token, "candidate_id": row["candidate_id"], "sitting": sitting["id"], "main": main, "aux": aux}


async def gate(api: Api, token: str, data: bytes, *, advance: float = 1.0) -> Any:
    api.clock.advance(seconds=advance)  # past the per-phone interval
    return await api.request("POST", "/api/v1/device/face", token, files=upload(data))


async def check(api: Api, token: str, data: bytes) -> Any:
    api.clock.advance(seconds=1)
    return await api.request("POST", "/api/v1/device/face/check", token, files=upload(data))


async def alive(*phones: AsyncWebSocketSession) -> None:
    """A heartbeat from each phone at the current fake time, with a ping as the barrier that it was handled."""
    for ws in phones:
        await ws.send_json({"type": "heartbeat", "charging": True, "network": "wifi", "visibility": "visible"})
        await ws.send_json({"type": "time.ping", "t0": 0})
        await wait_for(ws, "time.pong")


def code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


async def test_the_gate_through_the_waiting_window(api: Api, settings: Settings) -> None:
    s = await _seat(api)
    async with ws_client(api.app) as client, phone(client, s["main"]) as main, phone(client, s["aux"]) as aux:
        await next_message(main)
        await next_message(aux)

        early = await gate(api, s["main"], photo("person_a_2"))
        assert code(early) == (409, "face_gate_closed") and early.json()["error"]["details"]["opens_at"]

        api.clock.set(OPENS + timedelta(seconds=30))
        await alive(main, aux)
        not_main = await gate(api, s["aux"], photo("person_a_2"))
        assert code(not_main) == (403, "main_device_only")

        passed = await gate(api, s["main"], photo("person_a_2"))
        assert passed.status_code == 200, passed.text
        body = passed.json()
        assert body["passed"] and body["counted"] and body["state"] == "ready" and body["failures_in_row"] == 0
        assert body["similarity"] > body["threshold"] and body["pack"] == "sface"
        assert (await wait_for(main, "sitting.state"))["state"] == "ready"
        assert (await api.ok("GET", "/api/v1/device/sitting", s["aux"]))["state"] == "ready"

        # Answering: the gate is closed; the in-exam check is open and feeds proctoring events.
        api.clock.set(STARTS + timedelta(minutes=1))
        await alive(main, aux)
        late = await gate(api, s["main"], photo("person_a_2"))
        assert code(late) == (409, "face_gate_closed")

        # The phone learns only whether a face was seen; who it was is for the proctors.
        answers = [(await check(api, s["main"], still)).json() for still in (photo("person_a_2"), photo("impostor_1"), blank(), side_by_side("person_a_2", "person_b_1"))]
        assert answers == [{"face_seen": True}, {"face_seen": True}, {"face_seen": False}, {"face_seen": True}]
        assert code(await check(api, s["aux"], photo("person_a_2"))) == (403, "main_device_only")

    events = await api.ok("GET", f"/api/v1/ops/sittings/{s['sitting']}/events", s["ops"])
    found = [(e["kind"], e["details"]["faces"]) for e in events if e["kind"] in {"different_person", "face_absent", "several_faces"}]
    assert found[:2] == [("different_person", 1), ("face_absent", 0)] and ("several_faces", 2) in found[2:]
    flagged = next(e for e in events if e["kind"] == "different_person")
    assert flagged["details"]["similarity"] < flagged["details"]["threshold"]

    api.clock.set(ENDS + timedelta(minutes=1))
    assert code(await check(api, s["main"], photo("person_a_2"))) == (409, "face_check_closed")
    api.clock.set(DEADLINE + timedelta(minutes=1))
    assert code(await gate(api, s["main"], photo("person_a_2"))) == (409, "sitting_closed")

    # Every attempt recorded: similarity, threshold, pack, findings and the capture's key.
    async with api.app.state.sessionmaker() as db:
        rows = (await db.scalars(select(FaceCheck).where(FaceCheck.sitting_id == uuid.UUID(s["sitting"])).order_by(FaceCheck.at))).all()
    assert [r.purpose for r in rows] == [FacePurpose.waiting] + [FacePurpose.in_exam] * 4
    assert all(r.threshold == 0.363 and r.pack == "sface" and r.image_key for r in rows)
    assert {r.image_key for r in rows} <= set(object_keys(settings, "faces"))


async def test_a_pass_without_both_phones_online_waits_for_them(api: Api) -> None:
    s = await _seat(api)
    api.clock.set(OPENS)
    passed = (await gate(api, s["main"], photo("person_a_2"))).json()
    assert passed["passed"] is True and passed["state"] == "waiting"
    async with ws_client(api.app) as client, phone(client, s["main"]) as main, phone(client, s["aux"]) as aux:
        await next_message(main)
        await next_message(aux)
        await alive(main, aux)
        assert (await api.ok("GET", "/api/v1/device/sitting", s["main"]))["state"] == "ready"


async def test_identity_must_be_verified_first(api: Api) -> None:
    s = await _seat(api, verified=False)
    api.clock.set(OPENS)
    assert code(await gate(api, s["main"], photo("person_a_2"))) == (409, "identity_not_verified")


async def test_three_counted_failures_in_a_row_start_a_cooldown(api: Api) -> None:
    s = await _seat(api)
    api.clock.set(OPENS)
    for n in (1, 2, 3):
        failed = (await gate(api, s["main"], photo("impostor_1" if n % 2 else "person_b_1"))).json()
        assert (failed["passed"], failed["counted"], failed["failures_in_row"]) == (False, True, n)
    assert failed["cooldown_until"] is not None

    cooling = await gate(api, s["main"], photo("person_a_2"), advance=5)
    assert code(cooling) == (429, "face_cooldown")
    assert cooling.headers["retry-after"] == "55"
    assert code(await gate(api, s["main"], dark("person_a_2"), advance=54)) == (429, "face_cooldown")

    # The fake clock moves through the cool-down: the next capture is judged again, and a pass resets the count.
    passed = (await gate(api, s["main"], photo("person_a_2"), advance=1)).json()
    assert passed["passed"] is True and passed["failures_in_row"] == 0

    # Requests from one phone closer than a second apart are refused before any work.
    again = await gate(api, s["main"], photo("person_a_2"), advance=0.2)
    assert code(again) == (429, "face_rate_limited") and again.headers["retry-after"] == "1"


async def test_coaching_captures_never_count_toward_the_cooldown(api: Api) -> None:
    s = await _seat(api)
    api.clock.set(OPENS)
    for _ in range(4):
        coached = (await gate(api, s["main"], dark("person_a_2"))).json()
        assert (coached["passed"], coached["counted"], coached["failures_in_row"], coached["cooldown_until"]) == (False, False, 0, None)
        assert [f["code"] for f in coached["findings"]] == ["too_dark"]
        assert coached["findings"][0]["message"] == "光线太暗，请到明亮处或打开灯光"
    two_fail = [(await gate(api, s["main"], photo("impostor_2"))).json()["failures_in_row"] for _ in range(2)]
    assert two_fail == [1, 2]
    assert (await gate(api, s["main"], photo("person_a_2"))).json()["passed"] is True
