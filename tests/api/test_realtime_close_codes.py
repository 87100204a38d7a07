"""Close codes of the realtime channel that need time or load to happen: 4408 (silent past the presence timeout,
real time: the server's receive deadline runs on the event loop's clock) and 4429 (too many messages waiting for one
socket). Each ends only its own socket: the other phone of the sitting stays connected and is told."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from httpx_ws import AsyncWebSocketSession, WebSocketDisconnect

from app.services.sitting.channels import device_channel
from app.api import ws as realtime
from app.config import Settings
from tests.support.api import Api
from tests.support.realtime import barrier, events, scene
from tests.support.ws import next_message, phone, wait_for, ws_client

pytestmark = pytest.mark.anyio

SILENCE = 2  # seconds: presence_timeout_seconds for these tests (the smallest the settings allow)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"presence_timeout_seconds": SILENCE})


async def test_a_phone_silent_past_the_presence_timeout_is_closed_with_4408(api: Api) -> None:
    s = await scene(api)
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main:
        assert (await next_message(main))["presence_timeout_seconds"] == SILENCE
        async with phone(client, s.seat.aux) as aux, _talking(main):
            await next_message(aux)
            await wait_for(main, "peer.online", role="aux")
            # Messages keep a socket open: the deadline counts from the last one, not from the connect.
            started = time.monotonic()
            while time.monotonic() - started < SILENCE * 1.5:
                await barrier(aux)
                await asyncio.sleep(SILENCE / 4)
            await barrier(aux)
            # Then silence: closed with 4408 about SILENCE seconds after the last message, not before.
            last_message = time.monotonic()
            with pytest.raises(WebSocketDisconnect) as closed:
                await wait_for(aux, "never", timeout=SILENCE * 3)
            assert closed.value.code == 4408
            assert time.monotonic() - last_message >= SILENCE * 0.9
            # The main phone kept talking, so only the aux went: main hears it (and is still open).
            offline = await wait_for(main, "peer.offline", timeout=SILENCE * 3)
            assert offline["role"] == "aux"
    offline_events = [e for e in await events(api, s.ops, s.seat.sitting_id) if e["kind"] == "device_offline"]
    assert [e["details"] for e in offline_events][:1] == [{"role": "aux", "reason": "heartbeat_timeout"}]


@asynccontextmanager
async def _talking(ws: AsyncWebSocketSession) -> AsyncIterator[None]:
    """A phone that keeps sending (time pings, a quarter of the timeout apart) while the block runs."""

    async def ping() -> None:
        while True:
            await ws.send_json({"type": "time.ping", "t0": 0})
            await asyncio.sleep(SILENCE / 4)

    task = asyncio.create_task(ping())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_socket_with_too_many_messages_waiting_is_closed_with_4429(api: Api) -> None:
    """Messages published faster than this socket's writer sends them (here: a burst with no await in between, as
    a phone that stopped reading lets them pile up) are kept up to OUTBOX_LIMIT; one more closes the socket (4429)
    instead of silently dropping messages. The phone reconnects and reloads its state from `hello`."""
    s = await scene(api)
    hub = api.app.state.hub
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main:
        hello = await next_message(main)
        async with phone(client, s.seat.aux) as aux:
            aux_id = (await next_message(aux))["device"]["id"]
            await wait_for(main, "peer.online", role="aux")
            burst = realtime.OUTBOX_LIMIT + 1
            for n in range(burst):
                await hub.publish(device_channel(uuid.UUID(aux_id)), {"type": "command", "command": "noop", "n": n})
            received = []
            with pytest.raises(WebSocketDisconnect) as closed:
                while True:
                    received.append((await next_message(aux))["n"])
            assert closed.value.code == realtime.CLOSE_BACKLOG
            assert received == list(range(len(received))) and len(received) < burst  # in order, then cut
            # The other phone is untouched: still answered, and told its peer went.
            offline = await wait_for(main, "peer.offline")
            assert offline["role"] == "aux"
            await barrier(main)
    assert hello["device"]["role"] == "main"
    offline_events = [e for e in await events(api, s.ops, s.seat.sitting_id) if e["kind"] == "device_offline"]
    assert [e["details"] for e in offline_events if e["details"]["role"] == "aux"] == [{"role": "aux", "reason": "backlog"}]
