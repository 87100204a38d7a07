"""timezones: a time without an offset is read in the exam's zone; one with an offset keeps its instant; outputs
carry the exam's offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.services.timezones import to_local, to_utc

CASES = [
    ("Beijing, no offset", datetime(2026, 6, 1, 8, 0), "Asia/Shanghai", datetime(2026, 6, 1, 0, 0, tzinfo=UTC)),
    ("New York in summer", datetime(2026, 6, 1, 8, 0), "America/New_York", datetime(2026, 6, 1, 12, 0, tzinfo=UTC)),
    ("New York in winter", datetime(2026, 1, 5, 8, 0), "America/New_York", datetime(2026, 1, 5, 13, 0, tzinfo=UTC)),
    ("an offset wins over the zone", datetime(2026, 6, 1, 8, 0, tzinfo=timezone(timedelta(hours=9))), "Asia/Shanghai", datetime(2026, 5, 31, 23, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize(("label", "given", "zone", "expected"), CASES, ids=[c[0] for c in CASES])
def test_to_utc(label: str, given: datetime, zone: str, expected: datetime) -> None:
    found = to_utc(given, zone)
    assert found == expected and found.utcoffset() == timedelta(0)


def test_to_local() -> None:
    local = to_local(datetime(2026, 6, 1, 0, 0, tzinfo=UTC), "Asia/Shanghai")
    assert local is not None and (local.hour, local.utcoffset()) == (8, timedelta(hours=8))
    assert to_local(None, "Asia/Shanghai") is None
