"""Exam-local time: inputs without an offset are read in the exam's timezone; outputs carry its offset."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.config import DEFAULT_TIMEZONE

# An instant as the server writes one into stored details (`datetime.isoformat()` of an aware value).
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})")


def to_utc(value: datetime, timezone: str) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return value.astimezone(UTC)


def to_local(value: datetime | None, timezone: str) -> datetime | None:
    return None if value is None else value.astimezone(ZoneInfo(timezone))


def local_details(details: Any, timezone: str | None) -> Any:
    """Server-written details with every instant in them moved to the exam's offset. They were stored in UTC (rows
    written before, and the audit keeps what it wrote), but ops read one clock: the exam's. No exam, no change."""
    if timezone is None:
        return details
    if isinstance(details, dict):
        return {key: local_details(value, timezone) for key, value in details.items()}
    if isinstance(details, list):
        return [local_details(value, timezone) for value in details]
    if isinstance(details, str) and _INSTANT.fullmatch(details):
        return datetime.fromisoformat(details).astimezone(ZoneInfo(timezone)).isoformat()
    return details


# The phones name the default zone the same way (clients/common/i18n.js).
_ZONE_NAMES = {DEFAULT_TIMEZONE: "北京时间"}


def zone_label(timezone: str, at: datetime | None = None) -> str:
    """How a time in this zone is labelled for people: 北京时间 (UTC+08:00), or the IANA name with its offset."""
    offset = (at or datetime.now(UTC)).astimezone(ZoneInfo(timezone)).strftime("%z")
    utc = f"UTC{offset[:3]}:{offset[3:]}"
    return f"{_ZONE_NAMES[timezone]} {utc}" if timezone in _ZONE_NAMES else f"{timezone} {utc}"
