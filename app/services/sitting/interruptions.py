"""The interruption policy as a pure function (table-tested).

While answering, a phone may be away (app hidden, call, screen locked, offline). Overlapping stretches of either
phone count as one interruption. The policy is broken by the (limit+1)-th interruption, at its start, or by an
interruption lasting longer than the grace, at start + grace. Time outside the answer window does not count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Policy:
    limit: int  # interruptions allowed (0: none at all)
    grace: timedelta  # longest allowed interruption


@dataclass(frozen=True, slots=True)
class Stretch:
    started_at: datetime
    ended_at: datetime | None  # None: still away


@dataclass(frozen=True, slots=True)
class Breach:
    at: datetime
    reason: str  # too_many_interruptions | interruption_too_long


def merge(stretches: list[Stretch], *, window_start: datetime, window_end: datetime, now: datetime) -> list[tuple[datetime, datetime, bool]]:
    """Clip to [window_start, min(window_end, now)] and merge overlaps: (start, end, still_open)."""
    horizon = min(window_end, now)
    clipped = []
    for s in stretches:
        end = s.ended_at if s.ended_at is not None else horizon
        start, end = max(s.started_at, window_start), min(end, horizon)
        if start < end or (start == end and s.ended_at is None and start < window_end):
            clipped.append((start, end, s.ended_at is None or s.ended_at > horizon))
    clipped.sort()
    merged: list[tuple[datetime, datetime, bool]] = []
    for start, end, open_ in clipped:
        if merged and start <= merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2] or open_)
        else:
            merged.append((start, end, open_))
    return merged


def breach(stretches: list[Stretch], *, policy: Policy, window_start: datetime, window_end: datetime, now: datetime) -> Breach | None:
    """The earliest moment the policy was broken, or None."""
    found: list[Breach] = []
    merged = merge(stretches, window_start=window_start, window_end=window_end, now=now)
    if len(merged) > policy.limit:
        found.append(Breach(merged[policy.limit][0], "too_many_interruptions"))
    for start, end, _ in merged:
        if end - start > policy.grace:
            found.append(Breach(start + policy.grace, "interruption_too_long"))
    return min(found, key=lambda b: b.at) if found else None
