"""The live dashboard of a session: counts per state, a page of rows with both phones, the face gate, bytes in,
live flags and the last event; filters and paging; the reviewer's scope. Its socket tells watchers within 2 s that a
sitting changed — a phone's presence, its event, bytes of a recording — through the hub."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from app.models import StaffRole
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect, aconnect_ws

from tests.support.api import Api
from tests.support.flags import V1, answering, upload
from tests.support.media import webm
from tests.support.realtime import ENDS, STARTS
from tests.support.ws import next_message, ws_client

pytestmark = pytest.mark.anyio


async def board(api: Api, token: str, session_id: str, **params: Any) -> dict[str, Any]:
    return await api.ok("GET", f"{V1}/ops/sessions/{session_id}/dashboard", token, params=params)


async def changed(ws: AsyncWebSocketSession, sitting_id: str, timeout: float = 2.0) -> dict[str, Any]:
    """The next frame that names `sitting_id` (frames for other sittings are skipped), within `timeout` s."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive_json()
            if frame["type"] == "changed" and (sitting_id in frame["sitting_ids"] or frame["session"]):
                return frame


async def test_counts_rows_filters_and_paging(api: Api) -> None:
    async with answering(api, candidates=3) as a:
        await a.at(STARTS + timedelta(seconds=30))
        session_id = a.s.session["id"]
        body = await board(api, a.s.ops, session_id)
        assert body["total"] == 3 and body["matched"] == 3 and body["timezone"] == "Asia/Shanghai"
        assert body["counts"]["answering"] == 1 and body["counts"]["absent"] == 2 and sum(body["counts"].values()) == 3
        assert body["now"].endswith("+08:00")
        row = next(r for r in body["rows"] if r["sitting_id"] == a.sitting_id)
        assert row["state"] == "answering" and row["face_passed_at"] is not None
        assert [(p["role"], p["logged_in"], p["online"], p["recording"]) for p in row["phones"]] == [("main", True, True, "missing"), ("aux", True, True, "missing")]
        assert row["last_event"] is not None and row["last_event"]["at"].endswith("+08:00")
        absent = [r for r in body["rows"] if r["state"] == "absent"]
        assert len(absent) == 2 and all(not p["online"] for r in absent for p in r["phones"])

        only = await board(api, a.s.ops, session_id, state="answering")
        assert only["matched"] == 1 and [r["sitting_id"] for r in only["rows"]] == [a.sitting_id]
        named = await board(api, a.s.ops, session_id, search="考生2")
        assert [r["name"] for r in named["rows"]] == ["考生2"] and named["counts"] == body["counts"]
        pages = [await board(api, a.s.ops, session_id, offset=n, limit=2) for n in (0, 2)]
        assert [len(p["rows"]) for p in pages] == [2, 1] and all(p["matched"] == 3 for p in pages)
        assert {r["sitting_id"] for p in pages for r in p["rows"]} == {r["sitting_id"] for r in body["rows"]}

        for bad in ({"state": "sleeping"}, {"limit": 0}, {"limit": 201}, {"offset": -1}):
            answer = await api.request("GET", f"{V1}/ops/sessions/{session_id}/dashboard", a.s.ops, params=bad)
            assert answer.status_code == 422, (bad, answer.text)

        mine = await api.reviewer(a.s.ops, a.s.exam["id"])
        assert (await board(api, mine, session_id))["total"] == 3
        other_exam = await api.exam(a.s.ops)
        stranger = await api.reviewer(a.s.ops, other_exam["id"])
        refused = await api.request("GET", f"{V1}/ops/sessions/{session_id}/dashboard", stranger)
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "session_not_found"


async def test_the_socket_says_within_2_s_what_changed(api: Api) -> None:
    async with answering(api) as a, ws_client(api.app) as client:
        url = f"/api/v1/ops/sessions/{a.s.session['id']}/live?token={a.s.ops}"
        async with aconnect_ws(url, client) as ws:
            assert (await next_message(ws))["type"] == "hello"
            await a.aux.send_json({"type": "event", "kind": "app_hidden", "client_at": api.clock.now().isoformat()})
            await changed(ws, a.sitting_id)
            assert (await board(api, a.s.ops, a.s.session["id"]))["rows"][0]["last_event"]["kind"] == "app_hidden"

            await a.at(ENDS + timedelta(seconds=5))
            await upload(api, a.s.seat.main, webm(seconds=2.0))
            await changed(ws, a.sitting_id)
            phones = {p["role"]: p for p in (await board(api, a.s.ops, a.s.session["id"]))["rows"][0]["phones"]}
            assert phones["main"]["recording"] == "verified" and phones["main"]["bytes_received"] > 0
            assert phones["aux"]["recording"] == "missing"


async def test_the_socket_refuses_a_bad_token_a_grader_and_a_session_out_of_scope(api: Api) -> None:
    async with answering(api) as a, ws_client(api.app) as client:
        other_exam = await api.exam(a.s.ops)
        stranger = await api.reviewer(a.s.ops, other_exam["id"])
        grader = await api.staff(StaffRole.grader)  # graders never watch candidates, whatever they grade
        for token, code in (("dcs_not-a-token", 4401), (a.s.seat.main, 4401), (stranger, 4404), (grader, 4403)):
            with pytest.raises(WebSocketDisconnect) as closed:
                async with aconnect_ws(f"/api/v1/ops/sessions/{a.s.session['id']}/live?token={token}", client) as ws:
                    await next_message(ws)
            assert closed.value.code == code, token


async def test_a_log_out_closes_the_open_socket_at_once(api: Api) -> None:
    async with answering(api) as a, ws_client(api.app) as client:
        reviewer = await api.reviewer(a.s.ops, a.s.exam["id"])
        async with aconnect_ws(f"/api/v1/ops/sessions/{a.s.session['id']}/live?token={reviewer}", client) as ws:
            assert (await next_message(ws))["type"] == "hello"
            await api.ok("POST", f"{V1}/auth/logout", reviewer, status=204)
            with pytest.raises(WebSocketDisconnect) as closed:
                await next_message(ws, timeout=2.0)
            assert closed.value.code == 4401
        # The ops socket opened beside it goes on.
        async with aconnect_ws(f"/api/v1/ops/sessions/{a.s.session['id']}/live?token={a.s.ops}", client) as ws:
            assert (await next_message(ws))["type"] == "hello"
            await a.aux.send_json({"type": "event", "kind": "app_hidden", "client_at": api.clock.now().isoformat()})
            await changed(ws, a.sitting_id)


async def test_an_expired_token_gets_no_more_frames(api: Api) -> None:
    async with answering(api) as a, ws_client(api.app) as client:
        reviewer = await api.reviewer(a.s.ops, a.s.exam["id"])
        async with aconnect_ws(f"/api/v1/ops/sessions/{a.s.session['id']}/live?token={reviewer}", client) as ws:
            assert (await next_message(ws))["type"] == "hello"
            await a.at(ENDS + timedelta(days=15))  # past the staff token's lifetime; the session's phases move on
            with pytest.raises(WebSocketDisconnect) as closed:
                await next_message(ws, timeout=2.0)
            assert closed.value.code == 4401


async def test_a_reviewer_taken_off_the_exam_gets_no_more_frames(api: Api) -> None:
    async with answering(api) as a, ws_client(api.app) as client:
        reviewer = await api.reviewer(a.s.ops, a.s.exam["id"], username="reviewer-leaves")
        staff_id = next(s["id"] for s in await api.ok("GET", f"{V1}/ops/staff", a.s.ops) if s["username"] == "reviewer-leaves")
        async with aconnect_ws(f"/api/v1/ops/sessions/{a.s.session['id']}/live?token={reviewer}", client) as ws:
            assert (await next_message(ws))["type"] == "hello"
            await api.ok("DELETE", f"{V1}/ops/exams/{a.s.exam['id']}/staff/{staff_id}", a.s.ops, status=204)
            await a.aux.send_json({"type": "event", "kind": "app_hidden", "client_at": api.clock.now().isoformat()})
            with pytest.raises(WebSocketDisconnect) as closed:
                await next_message(ws, timeout=2.0)
            assert closed.value.code == 4404
