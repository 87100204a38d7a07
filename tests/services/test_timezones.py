"""timezones: a time without an offset is read in the exam's zone; one with an offset keeps its instant; outputs
carry the exam's offset, the instants the server wrote into details too; the default zone is named in one place a side."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.services.timezones import local_details, to_local, to_utc

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


DETAILS_CASES = [
    ("an instant in UTC", {"at": "2026-06-01T00:00:00+00:00"}, "Asia/Urumqi", {"at": "2026-06-01T06:00:00+06:00"}),
    ("nested, with Z and microseconds", {"a": [{"due_at": "2026-06-01T00:00:00.250000Z"}]}, "Asia/Shanghai", {"a": [{"due_at": "2026-06-01T08:00:00.250000+08:00"}]}),
    ("not an instant: left as it is", {"date": "2026-06-01", "hours": "08:00-20:00", "n": 3}, "Asia/Shanghai", {"date": "2026-06-01", "hours": "08:00-20:00", "n": 3}),
    ("no exam: left in UTC", {"at": "2026-06-01T00:00:00+00:00"}, None, {"at": "2026-06-01T00:00:00+00:00"}),
]


@pytest.mark.parametrize(("label", "given", "zone", "expected"), DETAILS_CASES, ids=[c[0] for c in DETAILS_CASES])
def test_local_details(label: str, given: dict[str, object], zone: str | None, expected: dict[str, object]) -> None:
    assert local_details(given, zone) == expected


def test_the_default_zone_is_named_once_on_each_side() -> None:
    """The server's default is app/config.py's DEFAULT_TIMEZONE and the phones' is DEFAULT_TIME_ZONE in
    clients/common/ui.js; every other place reads one of them (or the exam's own zone)."""
    root = Path(__file__).resolve().parents[2]
    sources = [p for folder in ("app", "clients", "scripts", "migrations") for p in (root / folder).rglob("*") if p.suffix in {".py", ".js", ".html", ".json", ".webmanifest"}]
    naming = sorted(str(p.relative_to(root)) for p in sources if "Asia/Shanghai" in p.read_text(encoding="utf-8"))
    assert naming == ["app/config.py", "clients/common/ui.js"]
    for known in ("app/config.py", "clients/common/ui.js"):
        assert (root / known).read_text(encoding="utf-8").count("Asia/Shanghai") == 1, known
