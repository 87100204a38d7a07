"""The sitting's risk score (app.flags.risk): one weight table, the union of each kind's stretches, at most 100."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.flags import RECORDING_KINDS
from app.flags.risk import WEIGHTS, risk


@dataclass(frozen=True)
class F:
    kind: str
    start_s: float
    end_s: float
    source: str = "recording"


def test_no_flag_is_no_risk() -> None:
    scored = risk([])
    assert (scored.score, scored.reasons) == (0, [])


def test_a_short_occurrence_adds_half_the_weight_and_a_long_one_all_of_it() -> None:
    weight = WEIGHTS["no_face"]
    assert risk([F("no_face", 10, 10)]).score == round(weight.points / 2)
    assert risk([F("no_face", 0, weight.full_s)]).score == weight.points
    assert risk([F("no_face", 0, weight.full_s * 5)]).score == weight.points
    halfway = risk([F("no_face", 0, weight.full_s / 2)])
    assert halfway.score == round(weight.points * 0.75)
    assert [(r.kind, r.seconds, r.weight, r.points) for r in halfway.reasons] == [("no_face", weight.full_s / 2, weight.points, halfway.score)]


def test_the_same_minute_seen_by_the_recording_and_the_live_stills_counts_once() -> None:
    both = risk([F("no_face", 0, 20), F("no_face", 10, 30, "live"), F("no_face", 25, 30, "live")])
    assert [(r.kind, r.seconds) for r in both.reasons] == [("no_face", 30.0)]
    apart = risk([F("no_face", 0, 10), F("no_face", 20, 30)])
    assert apart.reasons[0].seconds == 20.0


def test_an_instant_kind_adds_its_whole_weight() -> None:
    assert risk([F("device_replaced", 5, 5, "event")]).score == WEIGHTS["device_replaced"].points


def test_reasons_come_largest_first_and_the_score_stops_at_100() -> None:
    scored = risk([F("poor_video", 0, 60), F("different_person", 0, 10), F("several_faces", 0, 10), F("no_face", 0, 60)])
    assert [r.kind for r in scored.reasons] == ["different_person", "several_faces", "no_face", "poor_video"]
    assert sum(r.points for r in scored.reasons) > 100
    assert scored.score == 100


def test_every_kind_the_analysis_finds_has_a_weight_and_an_unknown_kind_is_refused() -> None:
    assert set(RECORDING_KINDS) <= set(WEIGHTS)
    with pytest.raises(ValueError, match="no risk weight"):
        risk([F("sneezed", 0, 1)])
