"""Redis pub/sub hub for several processes (redis-py asyncio; `broadcaster` is broken with redis-py 8).

One connection per process listens to every channel a local socket subscribed to and fans messages out to
local sinks (a MemoryHub does the local part). The JSON text travels as published: a message is encoded once
by the publisher and never again on the way to the sockets. Pub/sub can drop messages: clients reload state
over REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import redis.asyncio as redis

from app.adapters.hub import MemoryHub, Message, Sink, encode
from app.logs import get_logger

log = get_logger(__name__)


class RedisHub:
    def __init__(self, url: str, *, prefix: str = "dualcam:") -> None:
        self._redis = redis.Redis.from_url(url)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._local = MemoryHub()
        self._prefix = prefix
        self._counts: dict[str, int] = {}
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def publish(self, channel: str, message: Message) -> None:
        await self._redis.publish(self._prefix + channel, encode(message))

    @contextlib.asynccontextmanager
    async def attach(self, sink: Sink, *channels: str) -> AsyncIterator[None]:
        async with self._local.attach(sink, *channels):
            await self._add(channels)
            try:
                yield
            finally:
                await self._remove(channels)

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[AsyncIterator[Message]]:
        async with self._local.subscribe(*channels) as messages:
            await self._add(channels)
            try:
                yield messages
            finally:
                await self._remove(channels)

    async def _add(self, channels: tuple[str, ...]) -> None:
        async with self._lock:
            new = [c for c in channels if self._counts.get(c, 0) == 0]
            for channel in channels:
                self._counts[channel] = self._counts.get(channel, 0) + 1
            if new:
                await self._pubsub.subscribe(*(self._prefix + c for c in new))
            if self._reader is None:
                self._reader = asyncio.create_task(self._read())

    async def _remove(self, channels: tuple[str, ...]) -> None:
        async with self._lock:
            gone = []
            for channel in channels:
                self._counts[channel] -= 1
                if self._counts[channel] == 0:
                    del self._counts[channel]
                    gone.append(self._prefix + channel)
            if gone:
                await self._pubsub.unsubscribe(*gone)

    async def _read(self) -> None:
        while True:
            try:
                item = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection trouble: log, back off, keep going (clients reload over REST)
                log.warning("hub.redis.read_failed", error=repr(exc))
                await asyncio.sleep(0.5)
                continue
            if item is None or item.get("type") != "message":
                continue
            channel = item["channel"].decode()[len(self._prefix) :]
            try:
                text = item["data"].decode()
                message = json.loads(text)
            except ValueError:  # (UnicodeDecodeError is one)
                message = None
            if not isinstance(message, dict):
                log.warning("hub.redis.bad_message", channel=channel)
                continue
            self._local.deliver(channel, message, text)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()
        await self._redis.aclose()
