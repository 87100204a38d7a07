"""Per-client quotas, counted in this process: self-registrations and the candidate's face pictures per client address.

In memory on purpose. What the face quota protects, the face engine's worker, is itself one per process, so a count
per process is the right unit; and neither request should pay a database write for being counted. The price: with N
replicas a client gets N allowances, and a restart forgets. Failed log-ins, which must hold across processes and
restarts, are counted in the database instead (app.services.auth).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.config import Settings


class Quota:
    """At most ``limit`` hits per key in any ``window`` (a sliding log of the hit times of each key)."""

    def __init__(self, *, limit: int, window: timedelta, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[datetime]] = {}
        self._max_keys = max_keys

    def hit(self, key: str, *, now: datetime) -> timedelta | None:
        """Count a hit of ``key`` and answer None; or, with ``key`` at its limit, count nothing and answer how long
        until it may come again (refused hits do not extend the wait)."""
        hits = self._hits.get(key)
        if hits is None:
            self._make_room(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        return None

    def __len__(self) -> int:
        """How many keys are remembered (memory stays bounded by ``max_keys``)."""
        return len(self._hits)

    def _make_room(self, now: datetime) -> None:
        if len(self._hits) < self._max_keys:
            return
        self._hits = {k: h for k, h in self._hits.items() if h and h[-1] > now - self.window}
        while len(self._hits) >= self._max_keys:
            # Still full of live keys (a flood from many addresses): forget the ones seen first.
            del self._hits[next(iter(self._hits))]


@dataclass(frozen=True, slots=True)
class ClientQuotas:
    registrations: Quota
    face_uploads: Quota

    @classmethod
    def of(cls, settings: Settings) -> ClientQuotas:
        window = timedelta(seconds=settings.client_window_seconds)
        return cls(
            registrations=Quota(limit=settings.client_registrations, window=window),
            face_uploads=Quota(limit=settings.client_face_uploads, window=window),
        )
