"""The server clock: the only truth about time. Injected so tests move it without sleeping."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC datetime."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock tests set and advance."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = as_utc(when)

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now


class FileClock:
    """Reads "now" from a file holding an RFC 3339 timestamp (for tests driving real processes).

    Re-read when the file's mtime changes, so moving time is one write from the test.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._stamp: int | None = None
        self._now = datetime.now(UTC)

    def now(self) -> datetime:
        stamp = os.stat(self._path).st_mtime_ns
        if stamp != self._stamp:
            self._now = as_utc(datetime.fromisoformat(self._path.read_text().strip()))
            self._stamp = stamp
        return self._now


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: attach a timezone first")
    return value.astimezone(UTC)
