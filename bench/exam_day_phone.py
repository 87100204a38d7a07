"""The phones' side of bench/exam_day.py that is not about the exam's rules: shared timings, one HTTP call, one
phone's WebSocket (heartbeats, and opened again when it closes under the phone), the phones' back-off."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

V1 = "/api/v1"


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


class Failed(Exception):
    pass


# Close codes after which the phone's app stops reconnecting (clients/common/ws.js FINAL_CLOSE).
FINAL_CLOSE = {4401, 4409, 4410}
GONE = {502, 503, 504}  # the load balancer without a replica for a moment: a person taps again


async def call(client: httpx.AsyncClient, stats: Stats, method: str, url: str, token: str | None = None, expect: int = 200, **kwargs: Any) -> httpx.Response:
    """One request; a connection cut or a 502/503/504 is tried again after a back-off (at most 8 times), as a
    candidate taps again; any other answer than `expect` fails the candidate."""
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for attempt in range(1, 9):
        wait = backoff(attempt)
        try:
            response = await client.request(method, url, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            if attempt == 8:
                raise
            stats.retry(f"{method}_{type(exc).__name__}")
        else:
            if response.status_code not in GONE or attempt == 8:
                break
            stats.retry(f"{method}_{response.status_code}")
            wait = max(wait, float(response.headers.get("retry-after") or 0))  # a busy server says when
        await asyncio.sleep(wait)
    if response.status_code != expect:
        stats.error(str(response.status_code))
        raise Failed(f"{method} {url}: {response.status_code} {response.text[:300]}")
    return response


def phone_address(seq: int, role: str) -> str:
    """A loopback source address of its own for each phone (Linux routes all of 127/8 to lo): the server and the
    load balancer see 2,000 phones as 2,000 clients, as on the day, not one address tripping per-client quotas."""
    return f"127.{1 if role == 'main' else 2}.{seq // 256 % 256}.{seq % 256}"


class Phone:
    """One phone's socket: a reader task that keeps the messages, a heartbeat task every `heartbeat_seconds`."""

    def __init__(self, base_url: str, stats: Stats, token: str, role: str, address: str) -> None:
        self.base_url, self.stats, self.token, self.role, self.address = base_url, stats, token, role, address
        self.ws: ClientConnection | None = None
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.changed = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.heartbeat_seconds = 10.0
        self.closing = False
        self.reconnects = 0

    async def open(self) -> dict[str, Any]:
        self.closing = False
        url = self.base_url.replace("http", "ws", 1) + f"{V1}/ws?token={self.token}"
        self.ws = await connect(url, open_timeout=30, ping_interval=None, close_timeout=2, max_size=2**20, local_addr=(self.address, 0))
        hello = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
        self.messages.append((time.time(), hello))
        self.heartbeat_seconds = float(hello.get("heartbeat_seconds") or 10)
        self.tasks = [asyncio.create_task(self._read(self.ws)), asyncio.create_task(self._beat(self.ws))]
        await self.send({"type": "heartbeat", "charging": True, "network": "wifi", "visibility": "visible", "battery": 0.9})
        return hello

    async def reopen(self) -> None:
        """The app opens its socket again (after a reload or a drop): at once, and if that fails, on its back-off."""
        try:
            await self.open()
        except Exception:  # noqa: BLE001 (refused or cut, as a phone sees it: its reconnect loop takes over)
            self.stats.retry(f"ws_connect_failed_{self.role}")
            asyncio.get_running_loop().create_task(self._reconnect())

    async def send(self, message: dict[str, Any]) -> None:
        if self.ws is None:
            raise ConnectionError(f"{self.role}: no socket")
        await self.ws.send(json.dumps(message))

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                self.messages.append((time.time(), json.loads(raw)))
                self.changed.set()
        if ws.close_code in FINAL_CLOSE:  # as clients/common/ws.js: unauthorized, superseded, sitting over
            return
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
                self.stats.retry(f"ws_reconnect_{self.role}")
                return
            except ConnectionClosed as exc:
                if exc.rcvd is not None and exc.rcvd.code in FINAL_CLOSE:
                    return
                self.stats.retry(f"ws_connect_failed_{self.role}")
            except Exception:  # noqa: BLE001 (refused or cut while the load balancer notices: try again)
                self.stats.retry(f"ws_connect_failed_{self.role}")

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
