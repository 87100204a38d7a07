"""A phone replaced by a newer phone of its role, over the public interfaces: the new phone's log-in answer says
when it replaced one (`replaced_at`), ops see `device_replaced` (which phone, which role, when, replaced by whom),
and the replaced phone's token is refused as `device_replaced` — with the time and the exam's support contacts —
on REST, on a request refused before its body is read, on tus and at a socket's connect (then 4409)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from httpx_ws import WebSocketDisconnect

from tests.support.api import Api
from tests.support.realtime import STARTS, scene
from tests.support.ws import next_message, phone, ws_client

pytestmark = pytest.mark.anyio

TUS = {"Tus-Resumable": "1.0.0"}
SUPPORT = {"support_phone": "400-800-1234", "support_qq": "123456", "support_wechat": "dualcam-help", "support_hours": "每天 08:00–20:00"}
EXPECTED_SUPPORT = {"phone": "400-800-1234", "qq": "123456", "wechat": "dualcam-help", "hours": "每天 08:00–20:00"}


def beijing(moment: datetime) -> str:
    """An instant as the API writes it in the exam's timezone."""
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).isoformat()


async def log_in(api: Api, candidate: str, sitting_id: str, role: str) -> dict[str, Any]:
    return await api.ok("POST", f"/api/v1/candidate/sittings/{sitting_id}/devices", candidate, status=201, json={"role": role})


async def events(api: Api, ops: str, sitting_id: str) -> list[dict[str, Any]]:
    return await api.ok("GET", f"/api/v1/ops/sittings/{sitting_id}/events", ops)


async def test_a_device_log_in_says_when_it_replaced_the_previous_phone(api: Api) -> None:
    s = await scene(api)  # both phones logged in once
    seat = s.seat
    api.clock.advance(seconds=7)
    first = await log_in(api, seat.candidate, seat.sitting_id, "main")
    assert (first["replaced_at"], first["timezone"]) == (beijing(api.clock.now()), "Asia/Shanghai")
    api.clock.advance(seconds=30)
    second = await log_in(api, seat.candidate, seat.sitting_id, "main")
    assert second["replaced_at"] == beijing(api.clock.now())

    replaced = [e for e in await events(api, s.ops, seat.sitting_id) if e["kind"] == "device_replaced"]
    assert len(replaced) == 2
    last = replaced[-1]
    assert (last["device_id"], last["source"], last["details"]) == (first["device_id"], "server", {"role": "main", "replaced_by": second["device_id"]})
    assert datetime.fromisoformat(last["at"]) == api.clock.now()
    assert replaced[0]["details"] == {"role": "main", "replaced_by": first["device_id"]}
    assert datetime.fromisoformat(replaced[0]["at"]) == api.clock.now() - timedelta(seconds=30)
    # Only the role that logged in again: the aux phone was not replaced.
    assert (await api.request("GET", "/api/v1/device/sitting", seat.aux)).status_code == 200


async def test_the_first_log_in_of_a_role_replaced_no_one(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], STARTS - timedelta(minutes=10), STARTS, STARTS + timedelta(minutes=10), STARTS + timedelta(hours=3))
    _, candidate = await api.candidate(ops, exam["id"])
    await api.confirm(candidate)
    sitting = await api.sitting_of(candidate, session["id"])
    main = await log_in(api, candidate, sitting["id"], "main")
    assert (main["replaced_at"], main["timezone"]) == (None, "Asia/Shanghai")
    offer = await api.ok("POST", "/api/v1/device/pairing", main["token"], status=201)
    claimed = await api.ok("POST", "/api/v1/pairing/claim", status=201, json={"token": offer["token"]})
    assert (claimed["replaced_at"], claimed["timezone"]) == (None, "Asia/Shanghai")
    assert [e for e in await events(api, ops, sitting["id"]) if e["kind"] == "device_replaced"] == []


async def test_a_pairing_claim_says_when_it_replaced_the_previous_aux(api: Api) -> None:
    s = await scene(api)
    seat = s.seat
    offer = await api.ok("POST", "/api/v1/device/pairing", seat.main, status=201)
    api.clock.advance(seconds=12)
    claimed = await api.ok("POST", "/api/v1/pairing/claim", status=201, json={"token": offer["token"]})
    assert claimed["replaced_at"] == beijing(api.clock.now())
    (event,) = [e for e in await events(api, s.ops, seat.sitting_id) if e["kind"] == "device_replaced"]
    assert event["details"] == {"role": "aux", "replaced_by": claimed["device_id"]}
    assert datetime.fromisoformat(event["at"]) == api.clock.now()
    # The event names the phone that was replaced: the scene's aux, whose token is now refused.
    refused = await api.request("GET", "/api/v1/device/sitting", seat.aux)
    assert refused.json()["error"]["details"]["role"] == "aux"
    assert event["device_id"] != claimed["device_id"]


async def test_a_replaced_phone_is_told_so_wherever_it_asks(api: Api) -> None:
    s = await scene(api, **SUPPORT)
    seat = s.seat
    await log_in(api, seat.candidate, seat.sitting_id, "main")
    replaced_at = api.clock.now()
    api.clock.advance(minutes=2)  # it asks later (it was offline): the notice keeps the time it was replaced
    notice = {"role": "main", "replaced_at": beijing(replaced_at), "timezone": "Asia/Shanghai", "support": EXPECTED_SUPPORT}

    def replaced(answer: Any) -> None:
        assert answer.status_code == 401, answer.text
        error = answer.json()["error"]
        assert (error["code"], error["message"], error["details"]) == ("device_replaced", "此设备已被另一台手机取代", notice)

    replaced(await api.request("GET", "/api/v1/device/sitting", seat.main))
    # Refused before its body is read (the body-limit middleware's own 401).
    replaced(await api.request("POST", "/api/v1/device/events", seat.main, json={"kind": "app_hidden"}))
    # tus (the token is looked at before anything else): creating and writing say it with the same body; HEAD
    # answers carry no body, only the status.
    replaced(await api.request("POST", "/api/v1/uploads/", seat.main, headers={**TUS, "Upload-Defer-Length": "1"}))
    body = b"x" * 10
    checksum = "sha256 " + base64.b64encode(hashlib.sha256(body).digest()).decode()
    patch_headers = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0", "Upload-Checksum": checksum}
    replaced(await api.request("PATCH", "/api/v1/uploads/some-upload", seat.main, headers=patch_headers, content=body))
    assert (await api.request("HEAD", "/api/v1/uploads/some-upload", seat.main, headers=TUS)).status_code == 401

    async with ws_client(api.app) as client:
        async with phone(client, seat.main) as ws:
            error = await next_message(ws)
            assert (error["type"], error["code"], error["details"]) == ("error", "device_replaced", notice)
            with pytest.raises(WebSocketDisconnect) as closed:
                await next_message(ws)
            assert closed.value.code == 4409
        # A token that is simply unknown is only invalid: nothing about any sitting.
        async with phone(client, "dcd_not-a-token") as ws:
            error = await next_message(ws)
            assert error["code"] == "invalid_token" and "details" not in error
            with pytest.raises(WebSocketDisconnect) as closed:
                await next_message(ws)
            assert closed.value.code == 4401
    unknown = await api.request("GET", "/api/v1/device/sitting", "dcd_not-a-token")
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == "invalid_token"


async def test_the_replaced_phones_socket_hears_the_notice_at_once(api: Api) -> None:
    s = await scene(api, **SUPPORT)
    seat = s.seat
    async with ws_client(api.app) as client, phone(client, seat.aux) as old:
        await next_message(old)
        api.clock.advance(seconds=3)
        offer = await api.ok("POST", "/api/v1/device/pairing", seat.main, status=201)
        await api.ok("POST", "/api/v1/pairing/claim", status=201, json={"token": offer["token"]})
        command = await next_message(old)
        while command["type"] != "command":
            command = await next_message(old)
        assert command == {
            "type": "command", "command": "close", "reason": "superseded",
            "role": "aux", "replaced_at": beijing(api.clock.now()), "timezone": "Asia/Shanghai", "support": EXPECTED_SUPPORT,
        }  # fmt: skip
        with pytest.raises(WebSocketDisconnect) as closed:
            await next_message(old)
        assert closed.value.code == 4409
