"""The one smoothing rule behind every recording flag (app.flags.smoothing.stretches): at least k of n consecutive
samples, lasting at least a minimum time."""

from __future__ import annotations

import pytest

from app.flags.smoothing import stretches

X, _ = True, False


def test_a_stretch_shorter_than_the_minimum_is_dropped_and_one_as_long_is_kept() -> None:
    hits = [_, X, X, _, X, X, X, _]
    assert stretches(hits, step_s=1.0, min_seconds=3) == [(4.0, 7.0)]
    assert stretches(hits, step_s=1.0, min_seconds=2) == [(1.0, 3.0), (4.0, 7.0)]


def test_sample_i_stands_for_its_whole_step_and_the_recording_end_clips_the_last() -> None:
    assert stretches([_, _, X, X], step_s=0.5, min_seconds=0) == [(1.0, 2.0)]
    assert stretches([_, _, X, X], step_s=0.5, min_seconds=0, end_s=1.8) == [(1.0, 1.8)]
    # Clipped below the minimum: dropped.
    assert stretches([_, X, X, X], step_s=1.0, min_seconds=3, end_s=3.5) == []


def test_two_of_three_bridges_one_miss_but_not_two() -> None:
    assert stretches([X, _, X, X, _, X], step_s=1.0, min_seconds=0, k=2, n=3) == [(0.0, 6.0)]
    assert stretches([X, _, _, X, _, _, X], step_s=1.0, min_seconds=0, k=2, n=3) == []
    assert stretches([X, X, _, _, X, X], step_s=1.0, min_seconds=0, k=2, n=3) == [(0.0, 2.0), (4.0, 6.0)]


def test_a_stretch_runs_from_its_first_hit_to_its_last_not_over_the_window() -> None:
    # The window that fires spans samples 1-3, but the stretch starts at the first hit (2) and ends at the last (3).
    assert stretches([_, _, X, X, _, _], step_s=1.0, min_seconds=0, k=2, n=3) == [(2.0, 4.0)]


def test_nothing_found_in_nothing() -> None:
    assert stretches([], step_s=1.0, min_seconds=0) == []
    assert stretches([_] * 10, step_s=1.0, min_seconds=0, k=2, n=3) == []


@pytest.mark.parametrize(("k", "n"), [(0, 1), (3, 2), (-1, 3)])
def test_an_impossible_window_is_refused(k: int, n: int) -> None:
    with pytest.raises(ValueError, match="1 <= k <= n"):
        stretches([X], step_s=1.0, min_seconds=0, k=k, n=n)
