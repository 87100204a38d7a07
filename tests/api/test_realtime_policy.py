"""Phase pushes (what each phone gets, and that the question never leaves before answer start) and the exam's
interruption policy end to end (seed rule: continue within 2 minutes, at most once), plus the manual early stop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from httpx_ws import AsyncWebSocketSession

from tests.support.api import Api
from tests.support.realtime import (
    ENDS,
    OPENS,
    QUESTION,
    STARTS,
    Scene,
    alive,
    barrier,
    events,
    face_passed,
    move,
    ops_sitting,
    scene,
    to_answering,
    to_ready,
)
from tests.support.ws import next_message, phone, wait_for, ws_client

pytestmark = pytest.mark.anyio

SEED_RULE = {"interruption_limit": 1, "interruption_grace_seconds": 120}


class Recorder:
    """Every message a phone received, for assertions over the whole conversation."""

    def __init__(self, ws: AsyncWebSocketSession) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    async def next(self) -> dict[str, Any]:
        message = await next_message(self.ws)
        self.seen.append(message)
        return message

    async def wait_for(self, type_: str, **match: Any) -> dict[str, Any]:
        while True:
            message = await self.next()
            if message.get("type") == type_ and all(message.get(k) == v for k, v in match.items()):
                return message

    async def drain(self) -> None:
        """Everything sent before a ping is read once its pong is."""
        await self.ws.send_json({"type": "time.ping", "t0": 0})
        await self.wait_for("time.pong")

    def mentions(self, text: str) -> bool:
        return any(text in json.dumps(m, ensure_ascii=False) for m in self.seen)


async def test_phase_pushes_carry_the_question_only_to_ready_sittings_from_answer_start(api: Api) -> None:
    s = await scene(api, candidates=2)
    ready, absent = s.seats
    async with ws_client(api.app) as client:
        async with (
            phone(client, ready.main) as m1,
            phone(client, ready.aux) as a1,
            phone(client, absent.main) as m2,
            phone(client, absent.aux) as a2,
        ):
            phones = [Recorder(ws) for ws in (m1, a1, m2, a2)]
            for p in phones:
                assert (await p.next())["type"] == "hello"
            # Questions are not revealed over REST either, before answer start.
            early = await api.request("GET", "/api/v1/device/questions", ready.main)
            assert early.status_code == 403 and early.json()["error"]["code"] == "question_not_revealed"

            api.clock.set(OPENS)
            await api.app.state.scheduler.tick()
            for p in phones:
                phase = await p.wait_for("phase")
                assert phase == {"type": "phase", "phase": "waiting_open", "session_id": s.session["id"], "at": OPENS.isoformat()}

            # Only the first candidate passes the face gate; the second stays waiting with both phones online.
            api.clock.set(STARTS - timedelta(seconds=20))
            await alive(m1, a1, m2, a2)
            assert await face_passed(api, ready.sitting_id) == "ready"
            for p in phones[:2]:
                await p.wait_for("sitting.state", state="ready")
            # One tick just before the start: nothing is announced early.
            api.clock.set(STARTS - timedelta(microseconds=1))
            await alive(m1, a1, m2, a2)
            assert await api.app.state.scheduler.tick() == 0
            for p in phones:
                await p.drain()
                assert not p.mentions(QUESTION), "the question left the server before answer start"

            api.clock.set(STARTS)
            await alive(m1, a1, m2, a2)
            await api.app.state.scheduler.tick()
            for p in phones[:2]:
                phase = await p.wait_for("phase", phase="answer_start")
                assert phase["at"] == STARTS.isoformat() and "state" not in phase
                assert [(q["position"], q["text"], q["has_image"]) for q in phase["questions"]] == [(1, QUESTION, False)]
            for p in phones[2:]:
                phase = await p.wait_for("phase", phase="answer_start")
                assert "questions" not in phase and phase["state"] == "absent"
                absent_state = await p.wait_for("sitting.state")
                assert absent_state == {"type": "sitting.state", "sitting_id": absent.sitting_id, "state": "absent"}
            for p in phones:
                await p.drain()

            api.clock.set(ENDS)
            await alive(m1, a1)
            await api.app.state.scheduler.tick()
            for p in phones[:2]:
                phase = await p.wait_for("phase", phase="answer_end")
                assert "questions" not in phase and phase["at"] == ENDS.isoformat()
            for p in phones:
                await p.drain()
            assert not any(p.mentions(QUESTION) for p in phones[2:]), "an absent candidate's phone received the question"
            assert all(m["type"] != "phase" or m["phase"] != "answer_start" or "questions" in m for p in phones[:2] for m in p.seen)

    # REST agrees with what the phones were told.
    assert (await ops_sitting(api, s.ops, s.session["id"], ready.sitting_id))["state"] == "recorded"
    assert (await ops_sitting(api, s.ops, s.session["id"], absent.sitting_id))["state"] == "absent"
    revealed = await api.ok("GET", "/api/v1/device/questions", ready.main)
    assert [q["text"] for q in revealed["questions"]] == [QUESTION]


@dataclass
class Answering:
    """A candidate whose sitting is `answering`, with both phones connected and alive."""

    api: Api
    scene: Scene
    client: httpx.AsyncClient
    main: AsyncWebSocketSession
    aux: AsyncWebSocketSession
    aux_socket: AsyncExitStack = field(default_factory=AsyncExitStack)

    async def drop_aux(self) -> None:
        """The aux phone's socket closes (the phone walked away, or the network cut it)."""
        await self.aux_socket.aclose()

    @property
    def sitting_id(self) -> str:
        return self.scene.seat.sitting_id

    async def event(self, ws: AsyncWebSocketSession, kind: str) -> None:
        await ws.send_json({"type": "event", "kind": kind})
        await barrier(ws)

    async def at(self, when: datetime) -> None:
        """Move the clock with both phones alive (neither goes stale), then tick."""
        await move(self.api, when, self.main, self.aux)

    async def row(self) -> dict[str, Any]:
        return await ops_sitting(self.api, self.scene.ops, self.scene.session["id"], self.sitting_id)

    async def told(self, state: str, *phones: AsyncWebSocketSession, **match: Any) -> None:
        for ws in phones or (self.main, self.aux):
            message = await wait_for(ws, "sitting.state", state=state, **match)
            assert message["command"] == "stop"


@asynccontextmanager
async def answering(api: Api, **exam: Any) -> AsyncIterator[Answering]:
    s = await scene(api, **exam)
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main, AsyncExitStack() as aux_socket:
        await next_message(main)
        aux = await aux_socket.enter_async_context(phone(client, s.seat.aux))
        await next_message(aux)
        await to_ready(api, s.seat.sitting_id, main, aux)
        await to_answering(api, main, aux)
        yield Answering(api, s, client, main, aux, aux_socket)


async def test_one_short_interruption_is_tolerated_and_a_second_terminates(api: Api) -> None:
    async with answering(api, **SEED_RULE) as a:
        await a.at(STARTS + timedelta(seconds=30))
        await a.event(a.main, "app_hidden")
        await a.at(STARTS + timedelta(seconds=30 + 119))
        await a.event(a.main, "app_visible")
        await a.at(STARTS + timedelta(minutes=5))
        assert (await a.row())["state"] == "answering"

        await a.event(a.aux, "call_started")  # either phone counts
        await a.told("terminated", reason="too_many_interruptions")
        row = await a.row()
        assert row["state"] == "terminated" and row["terminated_reason"] == "too_many_interruptions"
        assert datetime.fromisoformat(row["terminated_at"]) == STARTS + timedelta(minutes=5)
        log = await events(api, a.scene.ops, a.sitting_id)
        last = [e for e in log if e["at"] == log[-1]["at"]]  # same instant: in no particular order
        assert sorted(e["kind"] for e in last) == ["call_started", "policy_broken"]
        (broken,) = [e for e in last if e["kind"] == "policy_broken"]
        assert broken["source"] == "server" and broken["details"]["reason"] == "too_many_interruptions"


async def test_one_interruption_longer_than_the_grace_terminates_on_the_next_tick(api: Api) -> None:
    async with answering(api, **SEED_RULE) as a:
        hidden_at = STARTS + timedelta(seconds=10)
        await a.at(hidden_at)
        await a.event(a.main, "screen_locked")
        await a.at(hidden_at + timedelta(seconds=120))  # exactly the grace: still allowed
        assert (await a.row())["state"] == "answering"
        await a.at(hidden_at + timedelta(seconds=150))  # the phone never came back; the tick notices
        await a.told("terminated", reason="interruption_too_long")
        row = await a.row()
        assert row["state"] == "terminated" and row["terminated_reason"] == "interruption_too_long"
        # Terminated as of when the grace ran out, not when the tick noticed.
        assert datetime.fromisoformat(row["terminated_at"]) == hidden_at + timedelta(seconds=120)
        assert row["terminated_at"].endswith("+08:00")  # ops read local exam time


async def test_a_phone_going_offline_counts_as_an_interruption(api: Api) -> None:
    timeout = api.app.state.settings.presence_timeout_seconds
    async with answering(api, **SEED_RULE) as a:
        # The aux's heartbeats stop: the sweep marks it offline as of its last beat + timeout.
        api.clock.set(STARTS + timedelta(seconds=timeout + 1))
        await alive(a.main)
        await api.app.state.scheduler.tick()
        assert (await wait_for(a.main, "peer.offline"))["role"] == "aux"
        assert (await a.row())["state"] == "answering"  # the first interruption is tolerated...
        await a.at(STARTS + timedelta(seconds=90))  # ...and it is back within the grace
        assert (await wait_for(a.main, "peer.online"))["role"] == "aux"
        assert (await a.row())["state"] == "answering"

        # A second time, its socket closes: terminated at once, and the main phone is told.
        await a.at(STARTS + timedelta(seconds=100))
        await a.drop_aux()
        assert (await wait_for(a.main, "peer.offline"))["role"] == "aux"
        await a.told("terminated", a.main, reason="too_many_interruptions")
        row = await a.row()
        assert row["state"] == "terminated" and datetime.fromisoformat(row["terminated_at"]) == STARTS + timedelta(seconds=100)
        offline = [e["details"]["reason"] for e in await events(api, a.scene.ops, a.sitting_id) if e["kind"] == "device_offline"]
        assert offline == ["heartbeat_timeout", "socket_closed"], await events(api, a.scene.ops, a.sitting_id)


async def test_interruptions_before_answer_start_do_not_count(api: Api) -> None:
    s = await scene(api, **SEED_RULE)
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main, phone(client, s.seat.aux) as aux:
        await next_message(main)
        await next_message(aux)
        await to_ready(api, s.seat.sitting_id, main, aux)
        for kind in ("app_hidden", "app_visible", "call_started", "call_ended", "screen_locked"):
            await main.send_json({"type": "event", "kind": kind})
        await barrier(main)
        api.clock.set(STARTS - timedelta(seconds=5))
        await main.send_json({"type": "event", "kind": "screen_unlocked"})
        await to_answering(api, main, aux)

        a = Answering(api, s, client, main, aux)
        await a.at(STARTS + timedelta(minutes=1))
        await a.event(aux, "app_hidden")
        await a.at(STARTS + timedelta(minutes=2))
        await a.event(aux, "app_visible")
        await a.at(STARTS + timedelta(minutes=5))
        # Three interruptions while waiting, one while answering: only the last one counts.
        assert (await a.row())["state"] == "answering"


async def test_an_interruption_spanning_answer_start_counts_from_the_start(api: Api) -> None:
    s = await scene(api, **SEED_RULE)
    async with ws_client(api.app) as client, phone(client, s.seat.main) as main, phone(client, s.seat.aux) as aux:
        await next_message(main)
        await next_message(aux)
        await to_ready(api, s.seat.sitting_id, main, aux)
        await main.send_json({"type": "event", "kind": "app_hidden"})  # 20 s before the start
        await to_answering(api, main, aux)
        a = Answering(api, s, client, main, aux)
        await a.at(STARTS + timedelta(seconds=120))
        assert (await a.row())["state"] == "answering"
        await a.at(STARTS + timedelta(seconds=121))
        await a.told("terminated", reason="interruption_too_long")
        assert datetime.fromisoformat((await a.row())["terminated_at"]) == STARTS + timedelta(seconds=120)


async def test_strict_policy_terminates_on_the_first_interruption(api: Api) -> None:
    async with answering(api, interruption_limit=0, interruption_grace_seconds=120) as a:
        await a.at(STARTS + timedelta(seconds=45))
        await a.event(a.main, "app_hidden")
        await a.told("terminated", reason="too_many_interruptions")
        row = await a.row()
        assert row["state"] == "terminated" and datetime.fromisoformat(row["terminated_at"]) == STARTS + timedelta(seconds=45)


async def test_interruptions_over_rest_count_too(api: Api) -> None:
    """A phone whose socket was down flushes its buffered events over REST: the same policy applies."""
    async with answering(api, **SEED_RULE) as a:
        await a.at(STARTS + timedelta(seconds=5))
        await api.ok("POST", "/api/v1/device/events", a.scene.seat.aux, status=204, json={"kind": "app_hidden", "client_at": (STARTS + timedelta(seconds=4)).isoformat()})
        api.clock.advance(seconds=20)
        await api.ok("POST", "/api/v1/device/events", a.scene.seat.aux, status=204, json={"kind": "app_visible"})
        api.clock.advance(seconds=20)  # (back-to-back stretches would merge into one interruption)
        await api.ok("POST", "/api/v1/device/events", a.scene.seat.main, status=204, json={"kind": "app_hidden"})
        await a.told("terminated", reason="too_many_interruptions")
        (hidden, *_) = [e for e in await events(api, a.scene.ops, a.sitting_id) if e["kind"] == "app_hidden"]
        assert hidden["source"] == "device" and datetime.fromisoformat(hidden["at"]) == STARTS + timedelta(seconds=5)
        assert datetime.fromisoformat(hidden["client_at"]) == STARTS + timedelta(seconds=4)


async def test_manual_early_stop_by_the_main_phone(api: Api) -> None:
    async with answering(api, **SEED_RULE) as a:
        await a.at(STARTS + timedelta(minutes=4))
        denied = await api.request("POST", "/api/v1/device/stop", a.scene.seat.aux)
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "main_device_only"
        assert (await a.row())["state"] == "answering"

        stopped = await api.ok("POST", "/api/v1/device/stop", a.scene.seat.main)
        assert stopped["state"] == "recorded"
        await a.told("recorded")
        row = await a.row()
        assert row["state"] == "recorded" and datetime.fromisoformat(row["recording_stopped_at"]) == STARTS + timedelta(minutes=4)

        # After the stop nothing counts any more: leaving the app to upload elsewhere is fine.
        await a.event(a.main, "app_hidden")
        await a.at(STARTS + timedelta(minutes=9))
        assert (await a.row())["state"] == "recorded"
        again = await api.request("POST", "/api/v1/device/stop", a.scene.seat.main)
        assert again.status_code == 409 and again.json()["error"]["code"] == "sitting_closed"
