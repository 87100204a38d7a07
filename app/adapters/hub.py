"""Fan-out hub: publish JSON messages on named channels; each process delivers to its own sockets.

In memory by default; Redis pub/sub when scaled (app.adapters.redis_hub). Pub/sub may drop messages,
so clients reload state over REST when they reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Protocol

from app.logs import get_logger

log = get_logger(__name__)

Message = dict[str, Any]


class Hub(Protocol):
    async def publish(self, channel: str, message: Message) -> None: ...
    def subscribe(self, *channels: str) -> contextlib.AbstractAsyncContextManager[AsyncIterator[Message]]: ...
    async def close(self) -> None: ...


class MemoryHub:
    """Single-process hub. A slow subscriber loses messages instead of growing memory without bound."""

    def __init__(self, queue_size: int = 256) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, set[asyncio.Queue[Message]]] = {}

    async def publish(self, channel: str, message: Message) -> None:
        for queue in list(self._subscribers.get(channel, ())):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                log.warning("hub.deliver.dropped", channel=channel)

    @contextlib.asynccontextmanager
    async def subscribe(self, *channels: str) -> AsyncIterator[AsyncIterator[Message]]:
        queue: asyncio.Queue[Message] = asyncio.Queue(self._queue_size)
        for channel in channels:
            self._subscribers.setdefault(channel, set()).add(queue)

        async def messages() -> AsyncIterator[Message]:
            while True:
                yield await queue.get()

        try:
            yield messages()
        finally:
            for channel in channels:
                subscribers = self._subscribers.get(channel)
                if subscribers is not None:
                    subscribers.discard(queue)
                    if not subscribers:
                        del self._subscribers[channel]

    async def close(self) -> None:
        self._subscribers.clear()


def session_channel(session_id: object) -> str:
    return f"session:{session_id}"


def candidate_channel(candidate_id: object) -> str:
    return f"candidate:{candidate_id}"


def sitting_channel(sitting_id: object) -> str:
    return f"sitting:{sitting_id}"


def device_channel(device_id: object) -> str:
    return f"device:{device_id}"
