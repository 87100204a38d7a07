"""Presence over the WebSocket: heartbeat telemetry kept, heartbeat timeouts swept by the scheduler, re-pairing
a dropped aux phone, and the fresh `hello` a reconnecting phone gets (the same state REST reports)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import datetime, timedelta

import pytest
from httpx_ws import WebSocketDisconnect

from tests.support.api import Api
from tests.support.realtime import DEADLINE, OPENS, STARTS, alive, device_row, events, move, scene, to_answering, to_ready
from tests.support.ws import next_message, phone, wait_for, ws_client

pytestmark = pytest.mark.anyio


async def test_heartbeats_carry_telemetry_that_is_kept(api: Api) -> None:
    s = await scene(api)
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main:
        device_id = (await next_message(main))["device"]["id"]
        await alive(main, battery=0.81, charging=False, network="4g", free_storage=7_500_000_000, visibility="visible")
        row = await device_row(api, device_id)
        assert row.telemetry == {"battery": 0.81, "charging": False, "network": "4g", "free_storage": 7_500_000_000, "visibility": "visible"}
        assert row.last_seen_at == api.clock.now()

        # Unchanged charging/network/visibility within half a heartbeat period: not written (10,000 phones);
        # a change a proctor cares about is written at once, and so is anything after the period.
        api.clock.advance(seconds=1)
        await alive(main, battery=0.80, charging=False, network="4g", visibility="visible")
        assert (await device_row(api, device_id)).telemetry["battery"] == 0.81
        await alive(main, battery=0.80, charging=True, network="4g", visibility="visible")
        assert (await device_row(api, device_id)).telemetry["charging"] is True
        api.clock.advance(seconds=10)
        await alive(main, battery=0.42, charging=True, network="wifi", free_storage=6_000_000_000, visibility="hidden")
        row = await device_row(api, device_id)
        assert row.telemetry == {"battery": 0.42, "charging": True, "network": "wifi", "free_storage": 6_000_000_000, "visibility": "hidden"}
        assert row.last_seen_at == api.clock.now()


async def test_missing_heartbeats_mark_the_phone_offline_until_it_beats_again(api: Api) -> None:
    s = await scene(api)
    timeout = api.app.state.settings.presence_timeout_seconds
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main, AsyncExitStack() as sockets:
        await next_message(main)  # (connected and subscribed: the aux's hello sees it online)
        aux = await sockets.enter_async_context(phone(client, s.seat.aux))
        assert (await next_message(aux))["peer"] == {"online": True}
        await wait_for(main, "peer.online", role="aux")
        last_beat = api.clock.now()

        # Exactly at the timeout the phone still counts as online; one second later the sweep takes it off.
        await move(api, last_beat + timedelta(seconds=timeout), aux)
        await move(api, last_beat + timedelta(seconds=timeout + 1), aux)
        offline = await wait_for(aux, "peer.offline")
        assert offline["role"] == "main"
        (event,) = [e for e in await events(api, s.ops, s.seat.sitting_id) if e["kind"] == "device_offline"]
        assert event["details"] == {"role": "main", "reason": "heartbeat_timeout"}
        # Offline as of the last heartbeat + timeout, not as of when the sweep happened to run.
        assert datetime.fromisoformat(event["at"]) == last_beat + timedelta(seconds=timeout)
        assert (await device_row(api, offline["device_id"])).disconnected_at is not None

        # The socket itself survived (a network stall): the next heartbeat brings the phone back.
        api.clock.advance(seconds=5)
        await alive(main)
        online = await wait_for(aux, "peer.online")
        assert online["role"] == "main"
        kinds = [e["kind"] for e in await events(api, s.ops, s.seat.sitting_id)]
        assert kinds[-2:] == ["device_offline", "device_online"]
        # Back online counts for readiness again: a second sweep finds nothing stale.
        await move(api, api.clock.now() + timedelta(seconds=1), main, aux)
        assert [e["kind"] for e in await events(api, s.ops, s.seat.sitting_id)].count("device_offline") == 1


async def test_a_dropped_aux_re_pairs_and_the_main_phone_sees_it_live(api: Api) -> None:
    s = await scene(api)
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main:
        await next_message(main)
        first = await api.ok("POST", "/api/v1/device/pairing", s.seat.main, status=201)
        old = await api.ok("POST", "/api/v1/pairing/claim", status=201, json={"token": first["token"]})
        assert (await wait_for(main, "pair.status"))["aux_device_id"] == old["device_id"]
        async with phone(client, old["token"]) as old_aux:
            await next_message(old_aux)
            assert (await wait_for(main, "peer.online"))["device_id"] == old["device_id"]

            # The aux phone is lost: the candidate scans a fresh code with another phone.
            second = await api.ok("POST", "/api/v1/device/pairing", s.seat.main, status=201)
            new = await api.ok("POST", "/api/v1/pairing/claim", status=201, json={"token": second["token"]})
            assert new["device_id"] != old["device_id"] and new["sitting_id"] == s.seat.sitting_id
            status = await wait_for(main, "pair.status")
            assert status == {"type": "pair.status", "paired": True, "aux_device_id": new["device_id"], "at": status["at"]}

            command = await wait_for(old_aux, "command")
            assert command["command"] == "close" and command["reason"] == "superseded"
            with pytest.raises(WebSocketDisconnect) as closed:
                await next_message(old_aux)
            assert closed.value.code == 4409

        async with phone(client, new["token"]) as new_aux:
            hello = await next_message(new_aux)
            assert hello["device"] == {"id": new["device_id"], "role": "aux"} and hello["peer"] == {"online": True}
            assert (await wait_for(main, "peer.online"))["device_id"] == new["device_id"]
        # The superseded phone's token no longer works; being replaced is not the candidate going offline.
        assert (await api.request("GET", "/api/v1/device/sitting", old["token"])).status_code == 401
    kinds = [(e["kind"], e["device_id"]) for e in await events(api, s.ops, s.seat.sitting_id)]
    assert ("device_replaced", old["device_id"]) in kinds
    assert [k for k, _ in kinds].count("paired") == 2
    assert ("device_offline", old["device_id"]) not in kinds


async def test_a_reconnecting_phone_gets_a_fresh_hello_matching_rest(api: Api) -> None:
    s = await scene(api)
    seat = s.seat
    async with ws_client(api.app) as client, phone(client, seat.main) as main:
        first = await next_message(main)
        assert first["sitting"]["state"] == "scheduled" and first["peer"] == {"online": False}
        async with phone(client, seat.aux) as aux:
            await next_message(aux)
            await to_ready(api, seat.sitting_id, main, aux)
            await to_answering(api, main, aux)
            # The aux drops (pub/sub could also have dropped a message): it comes back and reloads.
        assert (await wait_for(main, "peer.offline"))["role"] == "aux"
        api.clock.advance(seconds=20)
        await alive(main)
        async with phone(client, seat.aux) as aux:
            hello = await next_message(aux)
            rest = await api.ok("GET", "/api/v1/device/sitting", seat.aux)
            # The same sitting; its recordings' progress comes over REST only (the uploader asks for it), the still
            # period (main phone only) beside the sitting.
            assert hello["sitting"] == {k: v for k, v in rest.items() if k not in ("recordings", "live_still_seconds")}
            assert hello["live_still_seconds"] is rest["live_still_seconds"] is None
            assert hello["sitting"]["state"] == "answering" and hello["peer"] == {"online": True}
            assert hello["server_time"] == api.clock.now().isoformat()
            assert hello["heartbeat_seconds"] == 10 and hello["presence_timeout_seconds"] == 30
            assert (await wait_for(main, "peer.online"))["role"] == "aux"
            # Back within the grace: one interruption, tolerated by the default policy.
            await move(api, api.clock.now() + timedelta(seconds=1), main, aux)
            assert (await api.ok("GET", "/api/v1/device/sitting", seat.main))["state"] == "answering"


async def test_hello_reports_the_state_at_connect_time(api: Api) -> None:
    s = await scene(api)
    async with ws_client(api.app) as client:
        for when, state in ((OPENS - timedelta(seconds=1), "scheduled"), (OPENS, "waiting"), (STARTS - timedelta(seconds=1), "waiting")):
            api.clock.set(when)
            async with phone(client, s.seat.main) as main:
                hello = await next_message(main)
                assert hello["sitting"]["state"] == state
                rest = await api.ok("GET", "/api/v1/device/sitting", s.seat.main)
                assert hello["sitting"] == {k: v for k, v in rest.items() if k not in ("recordings", "live_still_seconds")}  # recordings: over REST only
                assert hello["live_still_seconds"] == rest["live_still_seconds"] == 20  # beside the sitting
        api.clock.set(DEADLINE)
        async with phone(client, s.seat.main) as main:
            assert (await next_message(main))["sitting"]["state"] == "absent"


async def test_phones_connecting_at_the_same_moment_each_learn_the_other_is_online(api: Api) -> None:
    """Each phone reads presence after subscribing: the peer is online in its hello or announced right after."""
    s = await scene(api)
    async with ws_client(api.app) as client:
        for _ in range(5):
            async with phone(client, s.seat.main) as main, phone(client, s.seat.aux) as aux:  # handshakes back to back
                for ws, peer_role in ((main, "aux"), (aux, "main")):
                    hello = await next_message(ws)
                    if not hello["peer"]["online"]:
                        assert (await wait_for(ws, "peer.online", timeout=2))["role"] == peer_role
            api.clock.advance(seconds=1)
