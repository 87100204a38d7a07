"""Both hubs deliver to subscribers of a channel only; Redis delivers across hub instances (processes)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from app.adapters.hub import Hub, MemoryHub
from app.adapters.redis_hub import RedisHub

pytestmark = pytest.mark.anyio
REDIS_URL = os.environ.get("DUALCAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _redis_up() -> bool:
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


@pytest.fixture
async def redis_hubs() -> AsyncIterator[tuple[Hub, Hub]]:
    if not await _redis_up():
        if os.environ.get("CI"):
            pytest.fail(f"Redis is not reachable at {REDIS_URL}")
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    prefix = f"dualcam-test-{uuid.uuid4().hex[:8]}:"
    a, b = RedisHub(REDIS_URL, prefix=prefix), RedisHub(REDIS_URL, prefix=prefix)
    yield a, b
    await a.close()
    await b.close()


async def _next(messages: AsyncIterator[dict], timeout: float = 5.0) -> dict:
    return await asyncio.wait_for(anext(messages), timeout)


async def _until_subscribed(hub: RedisHub, channel: str, count: int) -> None:
    """SUBSCRIBE travels on another connection than PUBLISH: wait until Redis has both subscribers."""
    for _ in range(100):
        ((_, subscribers),) = await hub._redis.pubsub_numsub(hub._prefix + channel)
        if subscribers >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("subscriptions never reached Redis")


async def test_memory_hub_delivers_per_channel() -> None:
    hub = MemoryHub()
    async with hub.subscribe("session:1") as one, hub.subscribe("session:2") as two:
        await hub.publish("session:1", {"type": "phase", "n": 1})
        await hub.publish("session:2", {"type": "phase", "n": 2})
        assert await _next(one) == {"type": "phase", "n": 1}
        assert await _next(two) == {"type": "phase", "n": 2}
    await hub.publish("session:1", {"after": "unsubscribe"})  # nobody listens: dropped, no error


async def test_memory_hub_drops_for_a_slow_subscriber_instead_of_growing() -> None:
    hub = MemoryHub(queue_size=2)
    async with hub.subscribe("c") as messages:
        for n in range(5):
            await hub.publish("c", {"n": n})
        assert [await _next(messages), await _next(messages)] == [{"n": 0}, {"n": 1}]


async def test_redis_hub_fans_out_across_instances(redis_hubs: tuple[Hub, Hub]) -> None:
    a, b = redis_hubs
    assert isinstance(a, RedisHub)
    async with b.subscribe("session:x") as on_b, a.subscribe("session:x") as on_a:
        await _until_subscribed(a, "session:x", 2)
        await a.publish("session:x", {"type": "phase", "phase": "answer_start", "text": "题目"})
        assert await _next(on_b) == {"type": "phase", "phase": "answer_start", "text": "题目"}
        assert await _next(on_a) == {"type": "phase", "phase": "answer_start", "text": "题目"}
