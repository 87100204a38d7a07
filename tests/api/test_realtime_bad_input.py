"""Bad input on the realtime channel: a typed error frame (the socket stays usable) or a close with a documented
code, and never a disturbance of another phone's socket."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect

from app.services.sitting import proctoring
from tests.support.api import Api
from tests.support.realtime import DEADLINE, Scene, barrier, events, ops_sitting, scene
from tests.support.ws import next_message, phone, wait_for, ws_client

pytestmark = pytest.mark.anyio

LIMIT = 16 * 1024  # ws_max_message_bytes


@asynccontextmanager
async def two_phones(api: Api, s: Scene) -> AsyncIterator[tuple[AsyncWebSocketSession, AsyncWebSocketSession]]:
    # One after the other: a socket is subscribed once its hello is read (the handshake completes before that).
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main:
        await next_message(main)
        async with phone(client, s.seat.aux) as aux:
            await next_message(aux)
            yield main, aux


async def error_for(ws: AsyncWebSocketSession, send: Any) -> dict[str, Any]:
    """Send a frame (text, bytes or a JSON-able object), return the error frame it earned, then prove the
    socket still works: a ping is answered."""
    if isinstance(send, bytes):
        await ws.send_bytes(send)
    elif isinstance(send, str):
        await ws.send_text(send)
    else:
        await ws.send_json(send)
    error = await wait_for(ws, "error")
    # The socket's request id rides on each error frame: what support looks up in the server's log.
    assert set(error) == {"type", "code", "message", "message_en", "request_id"} | ({"details"} if "details" in error else set())
    assert error["message"] and error["message_en"]
    pong = await barrier(ws)
    assert pong["t0"] == 0
    return error


async def test_protocol_errors_answer_with_typed_frames_and_keep_the_socket(api: Api) -> None:
    s = await scene(api)
    async with two_phones(api, s) as (main, aux):
        unknown = await error_for(main, {"type": "subscribe", "channel": "session:*"})
        assert unknown["code"] == "unknown_message_type" and unknown["details"] == {"type": "subscribe"}
        for text in ("{not json", "[1, 2, 3]", '"heartbeat"', "{}", '{"type": 7}', "", "null"):
            assert (await error_for(main, text))["code"] == "malformed_message", text
        assert (await error_for(main, b"\x00\x01binary"))["code"] == "malformed_message"
        # Known type, wrong fields: the validation errors come back (no echo of the input values).
        bad_beat = await error_for(main, {"type": "heartbeat", "battery": 7, "spy": True})
        assert bad_beat["code"] == "malformed_message" and {tuple(d["loc"]) for d in bad_beat["details"]} == {("battery",), ("spy",)}
        assert (await error_for(main, {"type": "time.ping"}))["code"] == "malformed_message"
        # JSON nested deeper than the parser's recursion limit (fits in the frame cap).
        deep = '{"type": "event", "kind": "app_hidden", "details": ' + "[" * 5000 + "]" * 5000 + "}"
        assert (await error_for(main, deep))["code"] == "malformed_message"
        # Valid JSON but not valid text (a lone surrogate): refused, never stored nor echoed back.
        for text in ('{"type": "\\ud800x"}', '{"type": "event", "kind": "app_hidden", "details": {"\\udfff": 1}}'):
            assert (await error_for(main, text))["code"] == "malformed_message"
        # A client time without a timezone cannot be placed on the server's timeline.
        naive = await error_for(main, {"type": "event", "kind": "app_hidden", "client_at": "2026-06-01T09:00:00"})
        assert naive["code"] == "malformed_message"

        # The other phone never noticed any of it.
        assert (await barrier(aux))["type"] == "time.pong"
    # None of the refused frames was recorded.
    assert [e for e in await events(api, s.ops, s.seat.sitting_id) if e["source"] == "device"] == []


async def test_heartbeats_and_events_for_another_device_or_candidate_are_refused(api: Api) -> None:
    s = await scene(api, candidates=2)
    other = s.seats[1]
    other_row = await ops_sitting(api, s.ops, s.session["id"], other.sitting_id)
    async with two_phones(api, s) as (main, aux):
        aux_id = (await wait_for(main, "peer.online"))["device_id"]
        for beat in (
            {"type": "heartbeat", "device_id": aux_id},  # the candidate's own other phone
            {"type": "heartbeat", "device_id": str(uuid.uuid4())},
            {"type": "heartbeat", "candidate_id": other_row["candidate_id"]},
            {"type": "event", "kind": "app_hidden", "device_id": aux_id},
        ):
            assert (await error_for(main, beat))["code"] == "not_your_device", beat
        # Naming itself is fine.
        own = await ops_sitting(api, s.ops, s.session["id"], s.seat.sitting_id)
        await main.send_json({"type": "heartbeat", "candidate_id": own["candidate_id"], "battery": 0.5})
        pong = await barrier(main)
        assert pong["type"] == "time.pong"
    assert "app_hidden" not in [e["kind"] for e in await events(api, s.ops, s.seat.sitting_id)]


async def test_unknown_event_kinds_are_refused_over_ws_and_rest(api: Api) -> None:
    s = await scene(api)
    async with two_phones(api, s) as (main, _aux):
        error = await error_for(main, {"type": "event", "kind": "teleported"})
        assert error["code"] == "unknown_event_kind" and error["details"] == {"kind": "teleported"}
    refused = await api.request("POST", "/api/v1/device/events", s.seat.main, json={"kind": "teleported"})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "unknown_event_kind"
    naive = await api.request("POST", "/api/v1/device/events", s.seat.main, json={"kind": "app_hidden", "client_at": "2026-06-01T09:00:00"})
    assert naive.status_code == 422
    anonymous = await api.request("POST", "/api/v1/device/events", json={"kind": "app_hidden"})
    assert anonymous.status_code == 401
    kinds = [e["kind"] for e in await events(api, s.ops, s.seat.sitting_id)]
    assert "teleported" not in kinds and "app_hidden" not in kinds


async def test_an_oversized_frame_closes_only_that_socket_with_1009(api: Api) -> None:
    s = await scene(api)
    async with two_phones(api, s) as (main, aux):
        # Just under the cap the frame is read: its details are past their own bound (8 KB), which an error frame
        # says, and the socket goes on.
        padding = "x" * (LIMIT - 100)
        refused = await error_for(main, {"type": "event", "kind": "camera_error", "details": {"log": padding}})
        assert refused["code"] == "malformed_message"
        await main.send_json({"type": "event", "kind": "camera_error", "details": {"log": "x" * 1000}})
        await barrier(main)
        await main.send_text('{"type": "event", "kind": "camera_error", "details": {"log": "' + "y" * LIMIT + '"}}')
        error = await wait_for(main, "error")
        assert error["code"] == "frame_too_large"
        with pytest.raises(WebSocketDisconnect) as closed:
            await next_message(main)
        assert closed.value.code == 1009
        # The aux phone is told its peer left, and its own socket works as before.
        assert (await wait_for(aux, "peer.offline"))["role"] == "main"
        assert (await barrier(aux))["type"] == "time.pong"
        await aux.send_json({"type": "heartbeat", "battery": 0.9})
        assert (await barrier(aux))["type"] == "time.pong"
    kinds = [e["kind"] for e in await events(api, s.ops, s.seat.sitting_id)]
    assert kinds.count("camera_error") == 1


async def test_a_phone_of_a_finished_sitting_is_told_and_closed_with_4410(api: Api) -> None:
    s = await scene(api)
    api.clock.set(DEADLINE)  # never got ready: absent (and past the deadline)
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main:
        hello = await next_message(main)
        assert hello["type"] == "hello" and hello["sitting"]["state"] == "absent"
        error = await next_message(main)
        assert error["type"] == "error" and error["code"] == "sitting_closed"
        with pytest.raises(WebSocketDisconnect) as closed:
            await next_message(main)
        assert closed.value.code == 4410
    # Nothing about presence was recorded for a sitting that is over.
    assert [e["kind"] for e in await events(api, s.ops, s.seat.sitting_id)] == []
    # The REST side agrees: it cannot log a new phone in either.
    late = await api.request("POST", f"/api/v1/candidate/sittings/{s.seat.sitting_id}/devices", s.seat.candidate, json={"role": "aux"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "sitting_closed"


async def test_a_token_that_is_not_a_device_token_is_refused(api: Api) -> None:
    s = await scene(api)
    async with ws_client(api.app) as client:
        for token in (s.ops, s.seat.candidate):
            async with phone(client, token) as ws:
                error = await next_message(ws)
                assert error["type"] == "error" and error["code"] == "forbidden"
                with pytest.raises(WebSocketDisconnect) as closed:
                    await next_message(ws)
                assert closed.value.code == 4401


async def test_a_misbehaving_socket_does_not_disturb_the_others(api: Api) -> None:
    s = await scene(api, candidates=2)
    quiet = s.seats[1]
    async with ws_client(api.app) as client, phone(client, quiet.main) as bystander:
        await next_message(bystander)
        async with phone(client, s.seat.main) as rogue:
            await next_message(rogue)
            for frame in ("{", b"\xff", '{"type": "x"}', '{"type": "event", "kind": "nope"}', '{"type": "heartbeat", "device_id": "not-a-uuid"}'):
                if isinstance(frame, bytes):
                    await rogue.send_bytes(frame)
                else:
                    await rogue.send_text(frame)
                assert (await barrier(bystander))["type"] == "time.pong"
            await rogue.send_text("z" * (LIMIT + 1))
            with pytest.raises(WebSocketDisconnect):
                for _ in range(10):
                    await next_message(rogue)
        for _ in range(3):
            assert (await barrier(bystander))["type"] == "time.pong"


async def test_a_message_failing_on_our_side_answers_internal_error_and_keeps_the_socket(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    s = await scene(api)

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database hiccup")

    async with two_phones(api, s) as (main, aux):
        with monkeypatch.context() as patch:
            patch.setattr(proctoring, "device_event", broken)
            error = await error_for(main, {"type": "event", "kind": "app_hidden"})
            assert error["code"] == "internal_error" and "hiccup" not in str(error)
        await main.send_json({"type": "event", "kind": "app_hidden"})  # the retry goes through
        await barrier(main)
        assert (await barrier(aux))["type"] == "time.pong"
    assert [e["kind"] for e in await events(api, s.ops, s.seat.sitting_id) if e["source"] == "device"] == ["app_hidden"]
