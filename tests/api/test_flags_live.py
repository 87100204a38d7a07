"""Live flags: each in-exam check of the main phone's stills while answering (real sface models) stores its findings
as `live` flags in the same transaction, visible to ops at once and told on the session's staff channel."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.services.sitting.channels import staff_session_channel
from tests.support.api import Api
from tests.support.face import blank, candidate_with_photo, face_models_fixture, face_settings, photo, selfie, side_by_side, upload  # noqa: F401
from tests.support.flags import V1, of_source
from tests.support.realtime import DEADLINE, ENDS, OPENS, STARTS, alive, to_answering, to_ready
from tests.support.ws import next_message, phone, ws_client

pytestmark = pytest.mark.anyio


async def check(api: Api, token: str, data: bytes) -> dict[str, Any]:
    api.clock.advance(seconds=20)  # the phone's period between stills
    return await api.ok("POST", f"{V1}/device/face/check", token, files=upload(data))


async def test_each_still_with_a_finding_is_a_live_flag_that_ops_see_at_once(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    _, token = await candidate_with_photo(api, ops, exam["id"], id_photo="person_a_1")
    assert (await selfie(api, token, photo("person_a_2"))).json()["passed"] is True
    await api.confirm(token)
    sitting_id = (await api.sitting_of(token, session["id"]))["id"]
    main_token, aux_token = await api.device(token, sitting_id, "main"), await api.device(token, sitting_id, "aux")
    async with ws_client(api.app) as client, phone(client, main_token) as main, phone(client, aux_token) as aux:
        await next_message(main)
        await next_message(aux)
        await to_ready(api, sitting_id, main, aux)
        await to_answering(api, main, aux)
        api.clock.advance(seconds=2)
        await main.send_json({"type": "recording.started", "details": {"segment": 0}})
        await alive(main, aux)  # the barrier: the phone's recording start is stored
        async with api.app.state.hub.subscribe(staff_session_channel(session["id"])) as heard:
            same = await check(api, main_token, photo("person_a_2"))
            assert of_source(await api.ok("GET", f"{V1}/ops/sittings/{sitting_id}/flags", ops), "live") == []
            other = await check(api, main_token, photo("impostor_1"))
            # Ops see it with the answer to the phone: no job in between.
            (live,) = of_source(await api.ok("GET", f"{V1}/ops/sittings/{sitting_id}/flags", ops), "live")
            async with asyncio.timeout(2):
                message = await anext(aiter(heard))
            absent = await check(api, main_token, blank())
            crowd = await check(api, main_token, side_by_side("person_a_2", "person_b_1"))
    # The phone is told whether a face was seen, never who: "different person" stays with the staff.
    assert [same, other, absent, crowd] == [{"face_seen": True}, {"face_seen": True}, {"face_seen": False}, {"face_seen": True}]
    assert (live["kind"], live["role"], live["source"]) == ("different_person", "main", "live")
    assert live["value"] < live["detail"]["threshold"] and live["detail"]["faces"] == 1 and live["detail"]["check_id"]
    # At the still's moment (09:10:42, Beijing), on the main phone's timeline: its recording started at 09:10:02.
    assert (live["start_s"], live["end_s"], live["started_at"]) == (40.0, 40.0, "2026-06-01T09:10:42+08:00")
    assert message["type"] == "flags.live" and message["sitting_id"] == sitting_id
    assert [(f["kind"], f["source"]) for f in message["flags"]] == [("different_person", "live")]

    body = await api.ok("GET", f"{V1}/ops/sittings/{sitting_id}/flags", ops)
    assert [f["kind"] for f in of_source(body, "live")] == ["different_person", "no_face", "several_faces"]
    assert body["risk"]["score"] > 0 and "different_person" in {r["kind"] for r in body["risk"]["reasons"]}
