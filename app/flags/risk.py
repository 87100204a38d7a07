"""A sitting's risk score, 0-100, from all its flags (recording, live and event) with the reasons behind it.

Each kind has a weight: the points it adds when its flags last ``full_s`` seconds in all (the union of their
stretches, so the same minute seen by the recording and by the live stills counts once); a shorter total adds
between half the weight (any occurrence) and the full weight, in proportion. The score is the sum, at most 100.
docs/flags.md shows the table and why each weight is what it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


class FlagLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...
    @property
    def source(self) -> str: ...  # recording | live | event


@dataclass(frozen=True, slots=True)
class Weight:
    points: int
    full_s: float  # 0: any occurrence adds all the points (an instant, like a replaced device)


WEIGHTS: dict[str, Weight] = {
    # someone else: the conduct rules' most serious reasons (other_person)
    "different_person": Weight(60, 10),
    "several_faces": Weight(50, 10),
    # left the recording, or hid what it should show
    "app_hidden": Weight(30, 30),
    "call": Weight(30, 30),
    "short_recording": Weight(30, 300),
    "no_face": Weight(25, 60),
    "screen_locked": Weight(25, 30),
    "aux_offline": Weight(20, 120),
    "device_replaced": Weight(20, 0),
    # worth a look, rarely a violation alone
    "looking_away": Weight(15, 60),
    "audio_silent": Weight(15, 300),
    "offline": Weight(15, 120),
    "poor_video": Weight(10, 60),
}


@dataclass(frozen=True, slots=True)
class Reason:
    kind: str
    seconds: float
    weight: int
    points: int


@dataclass(frozen=True, slots=True)
class Risk:
    score: int
    reasons: list[Reason]


def risk(flags: Iterable[FlagLike]) -> Risk:
    """The score and its reasons, largest first; an unknown kind raises ValueError (every kind needs a weight)."""
    spans: dict[str, list[tuple[float, float]]] = {}
    for flag in flags:
        if flag.kind not in WEIGHTS:
            raise ValueError(f"no risk weight for flag kind {flag.kind!r}")
        spans.setdefault(flag.kind, []).append((flag.start_s, max(flag.start_s, flag.end_s)))
    reasons = []
    for kind, stretches in spans.items():
        weight = WEIGHTS[kind]
        seconds = _union(stretches)
        share = 1.0 if weight.full_s <= 0 else 0.5 + 0.5 * min(1.0, seconds / weight.full_s)
        reasons.append(Reason(kind, round(seconds, 3), weight.points, round(weight.points * share)))
    reasons.sort(key=lambda reason: (-reason.points, reason.kind))
    return Risk(min(100, sum(reason.points for reason in reasons)), reasons)


def _union(stretches: list[tuple[float, float]]) -> float:
    total = 0.0
    end = float("-inf")
    for start, stop in sorted(stretches):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total
