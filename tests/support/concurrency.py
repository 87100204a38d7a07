"""Racing the public API: N identical requests at once, and what came back.

Exactly one may win; the others get a declared 4xx (the `api` fixture fails a status a route does not declare, and
an unexpected exception fails the request), and the database is left in the state one request would leave. SQLite
serialises writers, so there requests may also all succeed one after another; what both databases must show is the
final state.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable

import httpx

N = 10


async def at_once(*requests: Awaitable[httpx.Response]) -> list[httpx.Response]:
    return list(await asyncio.gather(*requests))


def codes(responses: list[httpx.Response]) -> Counter[tuple[int, str | None]]:
    """(status, error code) of each response, counted."""
    return Counter((r.status_code, r.json()["error"]["code"] if r.status_code >= 400 else None) for r in responses)
