"""The server clock: the only truth about time. Injected so tests move it without sleeping."""

from __future__ import annotations

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

    The file is read on every call (a few dozen bytes): moving time is one write from the test, and two
    writes within the file system's timestamp granularity are both seen (an mtime check would miss the
    second). A torn read (the writer truncated but has not written yet) keeps the last good time.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._text: str | None = None
        self._now: datetime | None = None

    def now(self) -> datetime:
        text = self._path.read_text().strip()
        if text != self._text:
            try:
                value = as_utc(datetime.fromisoformat(text))
            except ValueError:
                if self._now is None:
                    raise
                return self._now  # half-written; the next call reads it again
            self._text, self._now = text, value
        assert self._now is not None
        return self._now


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: attach a timezone first")
    return value.astimezone(UTC)
