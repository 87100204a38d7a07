"""WebSocket helpers over the ASGI app (httpx-ws), with bounded waits: a missing message fails fast."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from httpx_ws import AsyncWebSocketSession, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport


@contextlib.asynccontextmanager
async def ws_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=ASGIWebSocketTransport(app=app), base_url="http://testserver") as client:
        yield client


@contextlib.asynccontextmanager
async def phone(client: httpx.AsyncClient, token: str | None) -> AsyncIterator[AsyncWebSocketSession]:
    url = "/api/v1/ws" + (f"?token={token}" if token else "")
    async with aconnect_ws(url, client) as ws:
        yield ws


async def next_message(ws: AsyncWebSocketSession, timeout: float = 5.0) -> dict[str, Any]:
    return await ws.receive_json(timeout=timeout)


async def wait_for(ws: AsyncWebSocketSession, type_: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
    """Skip other messages until one of `type_` (matching `match`) arrives."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive_json()
            if message.get("type") == type_ and all(message.get(k) == v for k, v in match.items()):
                return message
