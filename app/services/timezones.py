"""Exam-local time: inputs without an offset are read in the exam's timezone; outputs carry its offset."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def to_utc(value: datetime, timezone: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC)


def to_local(value: datetime | None, timezone: str) -> datetime | None:
    return None if value is None else value.astimezone(ZoneInfo(timezone))
