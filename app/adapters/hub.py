"""Fan-out hub: publish JSON messages on named channels; each process delivers to its own sockets.

In memory by default; Redis pub/sub when scaled (app.adapters.redis_hub). Pub/sub may drop messages,
so clients reload state over REST when they reconnect.

Two ways to listen:

- `attach(sink, *channels)`: the sockets' way. `publish` encodes a message to JSON once and hands the same
  `Envelope` (message and text) to every sink of the channel, synchronously: a sink only queues it (bounded) and
  sends it on its own, so one slow socket never holds back the others and nothing is encoded per socket.
- `subscribe(*channels)`: an async iterator of messages on a bounded queue (a slow reader loses messages
  instead of growing memory without bound); for tools and tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from app import metrics
from app.logs import get_logger

log = get_logger(__name__)

Message = dict[str, Any]


def encode(message: Message) -> str:
    """The one JSON encoding of a hub message (UTF-8 text as is, not \\u-escaped)."""
    return json.dumps(message, ensure_ascii=False, default=str)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A published message and its JSON text, shared by every local sink of the channel."""

    channel: str
    message: Message
    text: str


class Sink(Protocol):
    def offer(self, envelope: Envelope) -> None:
        """Take one message; called synchronously by `publish`: must not block or await."""
        ...


class Hub(Protocol):
    async def publish(self, channel: str, message: Message) -> None: ...
    def attach(self, sink: Sink, *channels: str) -> contextlib.AbstractAsyncContextManager[None]: ...
    def subscribe(self, *channels: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[Message]]: ...
    async def close(self) -> None: ...


class _QueueSink:
    """`subscribe`'s sink: a bounded queue; a full queue drops the message (logged)."""

    __slots__ = ("queue",)

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Message] = asyncio.Queue(size)

    def offer(self, envelope: Envelope) -> None:
        try:
            self.queue.put_nowait(envelope.message)
        except asyncio.QueueFull:
            metrics.hub_dropped.inc()
            log.warning("hub.deliver.dropped", channel=envelope.channel)


class MemoryHub:
    """Single-process hub (and the local part of the Redis hub)."""

    def __init__(self, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._sinks: dict[str, dict[Sink, None]] = {}  # insertion-ordered sets

    async def publish(self, channel: str, message: Message) -> None:
        self.deliver(channel, message)

    def deliver(self, channel: str, message: Message, text: str | None = None) -> int:
        """Hand one message to every local sink of `channel` (`text`: its JSON, when the caller has it).
        Encoded only if someone listens, and once. Returns the number of sinks."""
        sinks = self._sinks.get(channel)
        if not sinks:
            return 0
        envelope = Envelope(channel, message, encode(message) if text is None else text)
        for sink in list(sinks):  # a copy: a sink may detach while taking it (e.g. a socket closed on overflow)
            try:
                sink.offer(envelope)
            except Exception:  # one broken sink never stops the fan-out
                log.exception("hub.deliver.failed", channel=channel)
        return len(sinks)

    @contextlib.asynccontextmanager
    async def attach(self, sink: Sink, *channels: str) -> AsyncIterator[None]:
        self._add(sink, channels)
        try:
            yield
        finally:
            self._remove(sink, channels)

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[AsyncIterator[Message]]:
        sink = _QueueSink(self._queue_size)

        async def messages() -> AsyncIterator[Message]:
            while True:
                yield await sink.queue.get()

        async with self.attach(sink, *channels):
            yield messages()

    def _add(self, sink: Sink, channels: tuple[str, ...]) -> None:
        for channel in channels:
            self._sinks.setdefault(channel, {})[sink] = None

    def _remove(self, sink: Sink, channels: tuple[str, ...]) -> None:
        for channel in channels:
            sinks = self._sinks.get(channel)
            if sinks is not None:
                sinks.pop(sink, None)
                if not sinks:
                    del self._sinks[channel]

    async def close(self) -> None:
        self._sinks.clear()
