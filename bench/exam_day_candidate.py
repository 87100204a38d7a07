"""One candidate of bench/exam_day.py: the two phones' whole exam day over HTTP, WebSocket and tus, with faults."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from exam_day_phone import V1, Failed, Phone, Stats, backoff, call, phone_address, sleep_until

TUS = {"Tus-Resumable": "1.0.0"}
FAULTS = ("absent", "no_aux_upload", "socket_drop", "network_loss", "reload", "early_stop")
EXPECTED = {None: "uploaded", "absent": "absent", "no_aux_upload": "incomplete", "socket_drop": "uploaded", "network_loss": "uploaded", "reload": "uploaded", "early_stop": "uploaded"}


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
    stills: bool = True

    def epoch(self, name: str) -> float:
        return datetime.fromisoformat(self.session[name]).timestamp()


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


async def face_call(client: httpx.AsyncClient, stats: Stats, url: str, token: str, files: dict[str, Any]) -> dict[str, Any]:
    """A photo for the face engine; when it answers busy (503, Retry-After), the candidate taps again a moment later
    (the phone shows 系统繁忙). Timed from the first tap: what the candidate waits."""
    for attempt in range(1, 30):
        answer = await client.post(url, headers={"Authorization": f"Bearer {token}"}, files=files)
        if answer.status_code == 200:
            return dict(answer.json())
        if answer.status_code != 503:
            stats.error(str(answer.status_code))
            raise Failed(f"POST {url}: {answer.status_code} {answer.text[:300]}")
        stats.retry(f"{url.rsplit('/', 1)[-1]}_503")
        await asyncio.sleep(float(answer.headers.get("Retry-After", 1)) + random.random())
    raise Failed(f"POST {url}: busy 30 times")


def stop_at(ctx: Context, plan: Plan) -> float:
    """When the candidate's recording stops: at the answer's end, or two thirds into it for an early stop."""
    starts, ends = ctx.epoch("answer_starts_at"), ctx.epoch("answer_ends_at")
    return starts + (ends - starts) * 2 / 3 if plan.fault == "early_stop" else ends


async def upload(client: httpx.AsyncClient, ctx: Context, plan: Plan, token: str, role: str, phone: Phone | None = None) -> None:
    """tus with a deferred length: a PATCH about every chunk_seconds while recording, the length set with the last
    one when it stops. A PATCH that fails (connection cut, 423, 5xx) is retried after a back-off from the offset a
    HEAD gives, as the phones do. network_loss: a 10 s pause mid-answer first; reload (main phone): a third into
    the answer the app starts again, its socket closed and opened 3 s later, and the upload resumed from a HEAD."""
    stats, data = ctx.stats, ctx.recording
    starts, ends = ctx.epoch("answer_starts_at"), ctx.epoch("answer_ends_at")
    pieces = max(2, int((ends - starts) / ctx.chunk_seconds))
    size = -(-len(data) // pieces)
    stops = stop_at(ctx, plan)
    bounds = [min(len(data), size * (i + 1)) for i in range(pieces) if starts + (i + 1) * ctx.chunk_seconds < stops] + [len(data)]
    created = await call(client, stats, "POST", f"{V1}/uploads/", token, expect=201, headers={**TUS, "Upload-Defer-Length": "1"})
    location = created.headers["Location"]
    plan.sent_sha256[role], plan.sent_bytes[role] = hashlib.sha256(data).hexdigest(), len(data)
    offset, paused, failures = 0, False, 0
    for i, bound in enumerate(bounds):
        last = bound == len(data)
        await sleep_until(stops + 0.5 if last else starts + (i + 1) * ctx.chunk_seconds)  # the length is known at stop
        if plan.fault == "network_loss" and not paused and i >= len(bounds) // 2:
            paused, offset = True, -1
            await asyncio.sleep(10)
        if plan.fault == "reload" and phone is not None and not paused and i >= len(bounds) // 3:
            paused, offset = True, -1
            await phone.close()
            await asyncio.sleep(3)
            await phone.reopen()
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
    main_at, aux_at = phone_address(plan.seq, "main"), phone_address(plan.seq, "aux")
    client = lambda at: httpx.AsyncClient(base_url=ctx.base_url, timeout=60, transport=httpx.AsyncHTTPTransport(local_address=at))  # noqa: E731
    async with client(main_at) as main_http, client(aux_at) as aux_http:
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
        verified = await face_call(main_http, stats, f"{V1}/candidate/identity/selfie", cand, selfie)
        stats.add("identity", time.perf_counter() - t)
        if not verified["passed"]:
            raise Failed(f"identity selfie not passed: {verified}")
        sessions = (await call(main_http, stats, "GET", f"{V1}/candidate/sessions", cand)).json()
        (mine,) = [s for s in sessions if s["id"] == ctx.session["id"]]
        plan.sitting_id = mine["sitting"]["id"]
        main_token = (await call(main_http, stats, "POST", f"{V1}/candidate/sittings/{plan.sitting_id}/devices", cand, expect=201, json={"role": "main"})).json()["token"]
        main = Phone(ctx.base_url, stats, main_token, "main", main_at)
        aux: Phone | None = None
        try:
            await main.open()
            t = time.perf_counter()
            offer = (await call(main_http, stats, "POST", f"{V1}/device/pairing", main_token, expect=201)).json()
            claimed = (await call(aux_http, stats, "POST", f"{V1}/pairing/claim", expect=201, json={"token": offer["token"]})).json()
            aux = Phone(ctx.base_url, stats, claimed["token"], "aux", aux_at)
            await aux.open()
            await main.wait_for(15, type="peer.online")
            stats.add("pairing", time.perf_counter() - t)
            plan.reached = "paired"
            await sleep_until(ctx.epoch("waiting_opens_at") + 0.5)  # the gate opens with the waiting window
            t = time.perf_counter()
            gate = {"image": ("capture.jpg", ctx.photos[f"{plan.person}_2"], "image/jpeg")}
            passed = await face_call(main_http, stats, f"{V1}/device/face", main_token, gate)
            stats.add("face_gate", time.perf_counter() - t)
            if not passed.get("passed"):
                raise Failed(f"face gate not passed: {passed}")
            await main.wait_for(15, type="sitting.state", state="ready")
            plan.reached = "ready"
            wait = ctx.epoch("answer_starts_at") - time.time() + 30
            starts = ctx.epoch("answer_starts_at")
            still_seconds: float | None = None
            for phone in (main, aux):
                at, start = await phone.wait_for(wait, type="phase", phase="answer_start")
                still_seconds = still_seconds or start.get("live_still_seconds")
                plan.pushes[phone.role] = at - starts
                stats.add(f"start_push_{phone.role}", at - starts)
                await phone.send({"type": "recording.started", "details": {"mime": "video/webm;codecs=vp8,opus"}})
            plan.reached = "answering"
            jobs = [upload(main_http, ctx, plan, main_token, "main", main)]
            if plan.fault != "no_aux_upload":
                jobs.append(upload(aux_http, ctx, plan, claimed["token"], "aux"))
            if plan.fault == "socket_drop":
                jobs.append(_drop_and_reconnect(ctx, main))
            if plan.fault == "early_stop":
                jobs.append(_stop_early(main_http, ctx, plan, main_token))
            if ctx.stills and still_seconds:
                jobs.append(_stills(main_http, ctx, plan, main_token, float(still_seconds)))
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


async def _stop_early(client: httpx.AsyncClient, ctx: Context, plan: Plan, token: str) -> None:
    """结束录制 on the main phone before the answer's end (both phones then send what they recorded)."""
    await sleep_until(stop_at(ctx, plan))
    await call(client, ctx.stats, "POST", f"{V1}/device/stop", token)


async def _stills(client: httpx.AsyncClient, ctx: Context, plan: Plan, token: str, every: float) -> None:
    """The main phone's in-exam stills, every `every` s of the answer from a random first moment (phones do not
    start together to the millisecond); one that fails is dropped, as the phone drops it."""
    ends = ctx.epoch("answer_ends_at")
    await asyncio.sleep(random.uniform(1, every))
    image = {"image": ("still.jpg", ctx.photos[f"{plan.person}_2"], "image/jpeg")}
    while time.time() < min(ends, stop_at(ctx, plan)) - 1:
        t = time.perf_counter()
        try:
            answer = await client.post(f"{V1}/device/face/check", headers={"Authorization": f"Bearer {token}"}, files=image)
            if answer.status_code == 200:
                ctx.stats.add("live_still", time.perf_counter() - t)
            else:
                ctx.stats.retry(f"still_{answer.status_code}")
        except httpx.TransportError as exc:
            ctx.stats.retry(f"still_{type(exc).__name__}")
        await asyncio.sleep(every)


async def _drop_and_reconnect(ctx: Context, main: Phone) -> None:
    """The main phone's socket closes mid-answer and comes back 2 s later (a `hello` again)."""
    starts, ends = ctx.epoch("answer_starts_at"), ctx.epoch("answer_ends_at")
    await sleep_until(starts + (ends - starts) / 3)
    await main.close()
    await asyncio.sleep(2)
    await main.reopen()
