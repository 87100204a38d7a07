"""One candidate of bench/exam_day.py: the two phones' whole exam day over HTTP, WebSocket and tus, with faults."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

V1 = "/api/v1"
TUS = {"Tus-Resumable": "1.0.0"}
FAULTS = ("absent", "no_aux_upload", "socket_drop", "network_loss")
EXPECTED = {None: "uploaded", "absent": "absent", "no_aux_upload": "incomplete", "socket_drop": "uploaded", "network_loss": "uploaded"}


@dataclass
class Stats:
    """Shared by every candidate: phase timings (s) and HTTP errors by status."""

    phases: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def add(self, phase: str, seconds: float) -> None:
        self.phases.setdefault(phase, []).append(seconds)

    def error(self, key: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1

    retried: dict[str, int] = field(default_factory=dict)

    def retry(self, key: str) -> None:
        """A request that failed and was tried again, as a phone does (a replica gone, a lock not yet free)."""
        self.retried[key] = self.retried.get(key, 0) + 1


@dataclass
class Plan:
    seq: int
    id_number: str
    access_code: str
    person: str  # photos <person>_1 (ID) and <person>_2 (selfie, gate)
    fault: str | None
    arrive_at: float  # epoch seconds
    sent_sha256: dict[str, str] = field(default_factory=dict)
    sent_bytes: dict[str, int] = field(default_factory=dict)
    sitting_id: str | None = None
    reached: str = "not_started"
    failure: str | None = None
    pushes: dict[str, float] = field(default_factory=dict)
    last_byte_at: float = 0.0


@dataclass
class Context:
    base_url: str
    session: dict[str, Any]
    photos: dict[str, bytes]
    recording: bytes
    chunk_seconds: float
    stats: Stats

    def epoch(self, name: str) -> float:
        return datetime.fromisoformat(self.session[name]).timestamp()


class Failed(Exception):
    pass


async def call(client: httpx.AsyncClient, stats: Stats, method: str, url: str, token: str | None = None, expect: int = 200, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await client.request(method, url, headers=headers, **kwargs)
    if response.status_code != expect:
        stats.error(str(response.status_code))
        raise Failed(f"{method} {url}: {response.status_code} {response.text[:300]}")
    return response


class Phone:
    """One phone's socket: a reader task that keeps the messages, a heartbeat task every `heartbeat_seconds`."""

    def __init__(self, ctx: Context, token: str, role: str) -> None:
        self.ctx, self.token, self.role = ctx, token, role
        self.ws: ClientConnection | None = None
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.changed = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.heartbeat_seconds = 10.0
        self.closing = False
        self.reconnects = 0

    async def open(self) -> dict[str, Any]:
        self.closing = False
        url = self.ctx.base_url.replace("http", "ws", 1) + f"{V1}/ws?token={self.token}"
        self.ws = await connect(url, open_timeout=30, ping_interval=None, close_timeout=2, max_size=2**20)
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        self.messages.append((time.time(), hello))
        self.heartbeat_seconds = float(hello.get("heartbeat_seconds") or 10)
        self.tasks = [asyncio.create_task(self._read(self.ws)), asyncio.create_task(self._beat(self.ws))]
        await self.send({"type": "heartbeat", "charging": True, "network": "wifi", "visibility": "visible", "battery": 0.9})
        return hello

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps(message))

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                self.messages.append((time.time(), json.loads(raw)))
                self.changed.set()
        if not self.closing:  # closed under it (its replica died): back as soon as the load balancer has another
            asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        for task in self.tasks:
            task.cancel()
        for attempt in range(1, 60):
            await asyncio.sleep(backoff(attempt))
            if self.closing:
                return
            try:
                await self.open()
                self.reconnects += 1
                self.ctx.stats.retry(f"ws_reconnect_{self.role}")
                return
            except Exception:  # noqa: BLE001 (refused or cut while the load balancer notices: try again)
                self.ctx.stats.retry(f"ws_connect_failed_{self.role}")

    async def _beat(self, ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(self.heartbeat_seconds)
                await ws.send(json.dumps({"type": "heartbeat", "charging": True, "network": "wifi", "visibility": "visible", "battery": 0.9}))

    async def wait_for(self, timeout: float, **match: Any) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for at, message in self.messages[seen:]:
                if all(message.get(k) == v for k, v in match.items()):
                    return at, message
            seen = len(self.messages)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed(f"{self.role}: no {match} within {timeout:.0f} s")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    async def close(self) -> None:
        self.closing = True
        for task in self.tasks:
            task.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        self.ws = None


async def sleep_until(epoch: float) -> None:
    await asyncio.sleep(max(0.0, epoch - time.time()))


def backoff(attempt: int) -> float:
    """Full jitter up to 0.5, 1, 2, 3, 5 s: the phones' own retry steps (clients/common/uploader.js)."""
    return random.random() * (0.5, 1.0, 2.0, 3.0, 5.0)[min(attempt, 5) - 1]


RETRIED = {409, 423, 500, 502, 503, 504}  # an offset moved, a lock a dead replica held, a replica gone


async def _tus(client: httpx.AsyncClient, stats: Stats, method: str, url: str, token: str, **kwargs: Any) -> httpx.Response | None:
    """One tus request; None when it failed in a way a phone retries (after a back-off and a HEAD)."""
    try:
        response = await client.request(method, url, headers={**kwargs.pop("headers"), "Authorization": f"Bearer {token}"}, **kwargs)
    except httpx.TransportError as exc:
        stats.retry(f"{method}_{type(exc).__name__}")
        return None
    if response.status_code in RETRIED:
        stats.retry(f"{method}_{response.status_code}")
        return None
    if response.status_code not in (200, 204):
        stats.error(str(response.status_code))
        raise Failed(f"{method} {url}: {response.status_code} {response.text[:300]}")
    return response


async def upload(client: httpx.AsyncClient, ctx: Context, plan: Plan, token: str, role: str) -> None:
    """tus with a deferred length: a PATCH about every chunk_seconds during the answer window, the length set with
    the last one after answer end. A PATCH that fails (connection cut, 423, 5xx) is retried after a back-off from the
    offset a HEAD gives, as the phones do; network_loss: a 10 s pause mid-answer first."""
    stats, data = ctx.stats, ctx.recording
    starts, ends = ctx.epoch("answer_starts_at"), ctx.epoch("answer_ends_at")
    pieces = max(2, int((ends - starts) / ctx.chunk_seconds))
    size = -(-len(data) // pieces)
    bounds = [min(len(data), size * (i + 1)) for i in range(pieces)]
    created = await call(client, stats, "POST", f"{V1}/uploads/", token, expect=201, headers={**TUS, "Upload-Defer-Length": "1"})
    location = created.headers["Location"]
    plan.sent_sha256[role], plan.sent_bytes[role] = hashlib.sha256(data).hexdigest(), len(data)
    offset, paused, failures = 0, False, 0
    for i, bound in enumerate(bounds):
        last = bound == len(data)
        await sleep_until(ends + 0.5 if last else starts + (i + 1) * ctx.chunk_seconds)  # the length is known at stop
        if plan.fault == "network_loss" and not paused and i >= len(bounds) // 2:
            paused, offset = True, -1
            await asyncio.sleep(10)
        while offset < bound:
            if offset < 0:  # not known: ask
                head = await _tus(client, stats, "HEAD", location, token, headers=TUS)
                if head is None:
                    failures += 1
                    await asyncio.sleep(backoff(failures))
                    continue
                offset = int(head.headers["Upload-Offset"])
                continue
            headers = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": str(offset)}
            if last:
                headers["Upload-Length"] = str(len(data))
            t = time.perf_counter()
            answer = await _tus(client, stats, "PATCH", location, token, headers=headers, content=data[offset:bound])
            if answer is None:
                failures += 1
                offset = -1
                await asyncio.sleep(backoff(failures))
                continue
            stats.add("final_ack" if last else "chunk_ack", time.perf_counter() - t)
            offset, failures = int(answer.headers["Upload-Offset"]), 0
        if last:
            break
    plan.last_byte_at = time.time()


async def run_candidate(ctx: Context, plan: Plan) -> None:
    try:
        await _run(ctx, plan)
    except Failed as exc:
        plan.failure = str(exc)
    except Exception as exc:  # noqa: BLE001 (a bench reports, it does not stop at the first broken candidate)
        plan.failure = f"{type(exc).__name__}: {exc}"


async def _run(ctx: Context, plan: Plan) -> None:
    stats = ctx.stats
    if plan.fault != "absent":
        await sleep_until(plan.arrive_at)
    async with httpx.AsyncClient(base_url=ctx.base_url, timeout=60) as main_http, httpx.AsyncClient(base_url=ctx.base_url, timeout=60) as aux_http:
        t = time.perf_counter()
        body = (await call(main_http, stats, "POST", f"{V1}/auth/candidate/login", json={"identifier": plan.id_number, "secret": plan.access_code})).json()
        if plan.fault != "absent":
            stats.add("login", time.perf_counter() - t)
        cand = body["token"]
        await call(main_http, stats, "POST", f"{V1}/candidate/confirmation", cand, json={"identity_category": "其他", "province": "山东", "accept_rules": True})
        if plan.fault == "absent":
            # Confirmed beforehand (only a confirmed candidate has a sitting: an unconfirmed one is not on the
            # session's list at all), then never shows up on the day.
            plan.reached = "confirmed_only"
            return
        t = time.perf_counter()
        selfie = {"image": ("selfie.jpg", ctx.photos[f"{plan.person}_2"], "image/jpeg")}
        verified = (await call(main_http, stats, "POST", f"{V1}/candidate/identity/selfie", cand, files=selfie)).json()
        stats.add("identity", time.perf_counter() - t)
        if not verified["passed"]:
            raise Failed(f"identity selfie not passed: {verified}")
        sessions = (await call(main_http, stats, "GET", f"{V1}/candidate/sessions", cand)).json()
        (mine,) = [s for s in sessions if s["id"] == ctx.session["id"]]
        plan.sitting_id = mine["sitting"]["id"]
        main_token = (await call(main_http, stats, "POST", f"{V1}/candidate/sittings/{plan.sitting_id}/devices", cand, expect=201, json={"role": "main"})).json()["token"]
        main = Phone(ctx, main_token, "main")
        aux: Phone | None = None
        try:
            await main.open()
            t = time.perf_counter()
            offer = (await call(main_http, stats, "POST", f"{V1}/device/pairing", main_token, expect=201)).json()
            claimed = (await call(aux_http, stats, "POST", f"{V1}/pairing/claim", expect=201, json={"token": offer["token"]})).json()
            aux = Phone(ctx, claimed["token"], "aux")
            await aux.open()
            await main.wait_for(15, type="peer.online")
            stats.add("pairing", time.perf_counter() - t)
            plan.reached = "paired"
            await sleep_until(ctx.epoch("waiting_opens_at") + 0.5)  # the gate opens with the waiting window
            t = time.perf_counter()
            gate = {"image": ("capture.jpg", ctx.photos[f"{plan.person}_2"], "image/jpeg")}
            passed = (await call(main_http, stats, "POST", f"{V1}/device/face", main_token, files=gate)).json()
            stats.add("face_gate", time.perf_counter() - t)
            if not passed.get("passed"):
                raise Failed(f"face gate not passed: {passed}")
            await main.wait_for(15, type="sitting.state", state="ready")
            plan.reached = "ready"
            wait = ctx.epoch("answer_starts_at") - time.time() + 30
            starts = ctx.epoch("answer_starts_at")
            for phone in (main, aux):
                at, _ = await phone.wait_for(wait, type="phase", phase="answer_start")
                plan.pushes[phone.role] = at - starts
                stats.add(f"start_push_{phone.role}", at - starts)
                await phone.send({"type": "recording.started", "details": {"mime": "video/webm;codecs=vp8,opus"}})
            plan.reached = "answering"
            jobs = [upload(main_http, ctx, plan, main_token, "main")]
            if plan.fault != "no_aux_upload":
                jobs.append(upload(aux_http, ctx, plan, claimed["token"], "aux"))
            if plan.fault == "socket_drop":
                jobs.append(_drop_and_reconnect(ctx, main))
            await asyncio.gather(*jobs)
            for phone in (main, aux):
                with contextlib.suppress(Exception):
                    await phone.send({"type": "recording.stopped", "details": {}})
            plan.reached = "sent"
            if plan.fault == "no_aux_upload":
                return
            # Asked the way the phones ask (clients/common/uploader.js verifyDelay): 1 s, then half again, up to 5 s.
            deadline, asked = time.monotonic() + 300, 0
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError, Failed):
                    sitting = (await call(main_http, stats, "GET", f"{V1}/device/sitting", main_token)).json()
                    if sum(1 for r in sitting["recordings"] if r["verified"]) == 2:
                        plan.reached = "verified"
                        stats.add("verified_after_last_byte", time.time() - plan.last_byte_at)
                        return
                asked += 1
                await asyncio.sleep(min(5.0, 1.5 ** (asked - 1)) * random.uniform(0.5, 1))
            raise Failed("recordings not verified within 300 s of the last byte")
        finally:
            await main.close()
            if aux is not None:
                await aux.close()


async def _drop_and_reconnect(ctx: Context, main: Phone) -> None:
    """The main phone's socket closes mid-answer and comes back 2 s later (a `hello` again)."""
    starts, ends = ctx.epoch("answer_starts_at"), ctx.epoch("answer_ends_at")
    await sleep_until(starts + (ends - starts) / 3)
    await main.close()
    await asyncio.sleep(2)
    await main.open()
