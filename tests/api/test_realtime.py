"""The realtime channel, end to end over the ASGI app: hello, presence, pairing, supersede, phases, policy."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from httpx_ws import WebSocketDisconnect

from app.db import transaction
from app.services.sitting import presence, sittings
from tests.conftest import T0
from tests.support.api import Api
from tests.support.ws import next_message, phone, wait_for, ws_client

pytestmark = pytest.mark.anyio

OPENS = T0 + timedelta(hours=1)
STARTS = OPENS + timedelta(minutes=10)
ENDS = STARTS + timedelta(minutes=10)
DEADLINE = ENDS + timedelta(hours=3)


async def _setup(api: Api) -> dict[str, Any]:
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    await api.question(ops, session["id"], "正式题：谈谈你的职业规划")
    _, token = await api.candidate(ops, exam["id"])
    await api.confirm(token)
    sitting = await api.sitting_of(token, session["id"])
    main = await api.device(token, sitting["id"], "main")
    return {"ops": ops, "exam": exam, "session": session, "candidate": token, "sitting": sitting, "main": main}


async def _face_passed(api: Api, sitting_id: str) -> str:
    """What the face gate does on a pass."""
    async with transaction(api.app.state.sessionmaker, api.app.state.hub) as db:
        view = await sittings.load(db, sitting_id=uuid.UUID(sitting_id), now=api.clock.now())
        return await presence.face_passed(db, view=view, now=api.clock.now(), timeout=timedelta(seconds=30))


async def _alive(*phones: Any) -> None:
    """Heartbeat from each phone at the current (fake) time; the pong is the barrier that it was handled."""
    for ws in phones:
        await ws.send_json({"type": "heartbeat", "charging": True, "network": "wifi", "visibility": "visible"})
        await ws.send_json({"type": "time.ping", "t0": 0})
        await wait_for(ws, "time.pong")


async def test_anonymous_and_bad_tokens_are_refused(api: Api) -> None:
    async with ws_client(api.app) as client:
        for token in (None, "dcd_not-a-token"):
            async with phone(client, token) as ws:
                error = await next_message(ws)
                assert error["type"] == "error" and error["code"] in ("not_authenticated", "invalid_token")
                with pytest.raises(WebSocketDisconnect) as closed:
                    await next_message(ws)
                assert closed.value.code == 4401


async def test_hello_then_pairing_presence_and_time(api: Api) -> None:
    s = await _setup(api)
    async with ws_client(api.app) as client, phone(client, s["main"]) as main:
        hello = await next_message(main)
        assert hello["type"] == "hello" and hello["device"]["role"] == "main"
        assert hello["sitting"]["state"] == "scheduled" and hello["peer"] == {"online": False}
        assert hello["epoch_ms"] == T0.timestamp() * 1000

        await main.send_json({"type": "time.ping", "t0": 1234.5})
        pong = await wait_for(main, "time.pong")
        assert pong["t0"] == 1234.5 and pong["t1"] == pong["t2"] == T0.timestamp() * 1000

        offer = await api.ok("POST", "/api/v1/device/pairing", s["main"], status=201)
        assert offer["url"] == f"http://127.0.0.1:8000/aux/#pair={offer['token']}"
        assert offer["qr_svg"].startswith("<svg")
        claimed = await api.ok("POST", "/api/v1/pairing/claim", status=201, json={"token": offer["token"]})
        assert claimed["role"] == "device" and claimed["sitting_id"] == s["sitting"]["id"]
        status = await wait_for(main, "pair.status")
        assert status["paired"] is True and status["aux_device_id"] == claimed["device_id"]

        async with phone(client, claimed["token"]) as aux:
            aux_hello = await next_message(aux)
            assert aux_hello["device"]["role"] == "aux" and aux_hello["peer"] == {"online": True}
            online = await wait_for(main, "peer.online")
            assert online["role"] == "aux"
        offline = await wait_for(main, "peer.offline")
        assert offline["role"] == "aux"


async def test_pairing_codes_are_single_use_short_lived_and_bound_to_the_candidate(api: Api) -> None:
    s = await _setup(api)
    offer = await api.ok("POST", "/api/v1/device/pairing", s["main"], status=201)
    await api.ok("POST", "/api/v1/pairing/claim", status=201, json={"token": offer["token"]})
    reused = await api.request("POST", "/api/v1/pairing/claim", json={"token": offer["token"]})
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "pairing_token_used"

    late = await api.ok("POST", "/api/v1/device/pairing", s["main"], status=201)
    api.clock.advance(seconds=120)
    expired = await api.request("POST", "/api/v1/pairing/claim", json={"token": late["token"]})
    assert expired.status_code == 410 and expired.json()["error"]["code"] == "pairing_token_expired"

    unknown = await api.request("POST", "/api/v1/pairing/claim", json={"token": "pair_unknown-token"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "pairing_token_unknown"

    # A phone logged in for another candidate cannot take this candidate's code.
    other_exam = await api.exam(s["ops"])
    _, other = await api.candidate(s["ops"], other_exam["id"], seq=9, name="王五")
    fresh = await api.ok("POST", "/api/v1/device/pairing", s["main"], status=201)
    refused = await api.request("POST", "/api/v1/pairing/claim", other, json={"token": fresh["token"]})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "pairing_other_candidate"

    # Only the main phone offers codes.
    aux = await api.device(s["candidate"], s["sitting"]["id"], "aux")
    denied = await api.request("POST", "/api/v1/device/pairing", aux)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "main_device_only"


async def test_a_new_phone_of_the_same_role_supersedes_the_old_one(api: Api) -> None:
    s = await _setup(api)
    async with ws_client(api.app) as client, phone(client, s["main"]) as old:
        await next_message(old)
        replacement = await api.device(s["candidate"], s["sitting"]["id"], "main")
        command = await wait_for(old, "command")
        assert command["reason"] == "superseded"
        with pytest.raises(WebSocketDisconnect) as closed:
            await next_message(old)
        assert closed.value.code == 4409
        async with phone(client, replacement) as new:
            assert (await next_message(new))["type"] == "hello"
    events = await api.ok("GET", f"/api/v1/ops/sittings/{s['sitting']['id']}/events", s["ops"])
    assert "device_replaced" in [e["kind"] for e in events]
    stale = await api.request("GET", "/api/v1/device/sitting", s["main"])
    assert stale.status_code == 401


async def test_ready_candidates_get_the_question_at_answer_start_and_absent_ones_do_not(api: Api) -> None:
    s = await _setup(api)
    aux = await api.device(s["candidate"], s["sitting"]["id"], "aux")
    api.clock.set(OPENS)
    async with ws_client(api.app) as client, phone(client, s["main"]) as main, phone(client, aux) as aux_ws:
        await next_message(main)
        await next_message(aux_ws)
        await api.app.state.scheduler.tick()
        assert (await wait_for(main, "phase"))["phase"] == "waiting_open"
        api.clock.set(STARTS - timedelta(seconds=20))
        await _alive(main, aux_ws)
        assert await _face_passed(api, s["sitting"]["id"]) == "ready"
        assert (await wait_for(main, "sitting.state"))["state"] == "ready"
        api.clock.set(STARTS)
        await _alive(main, aux_ws)
        await api.app.state.scheduler.tick()
        for ws in (main, aux_ws):
            phase = await wait_for(ws, "phase", phase="answer_start")
            assert [q["text"] for q in phase["questions"]] == ["正式题：谈谈你的职业规划"]
