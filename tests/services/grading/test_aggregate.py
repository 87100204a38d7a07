"""The aggregation of graders' totals (a pure function): mean under five, 体操计分 from five, half-up rounding, the
tolerance that asks for one extra grader, and the rubric checks that scores pass before they are totals."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app import errors
from app.services.grading.aggregate import Progress, aggregate, score_of
from app.services.grading.rubric import parse

MAX, TOL = D(10), D("0.2")


def totals(*values: str | None) -> list[D | None]:
    return [None if v is None else D(v) for v in values]


def test_fewer_than_five_totals_are_averaged() -> None:
    assert score_of(totals("7", "8", "8.5")) == (D("7.83"), (D(7), D(8), D("8.5")))
    assert score_of(totals("6", "7")) == (D("6.50"), (D(6), D(7)))


def test_five_totals_drop_one_highest_and_one_lowest() -> None:
    score, counted = score_of(totals("2", "6", "7", "8", "10"))
    assert (score, sorted(counted)) == (D("7.00"), [D(6), D(7), D(8)])


def test_seven_totals_drop_only_one_of_each_even_when_tied() -> None:
    score, counted = score_of(totals("9", "9", "5", "6", "7", "5", "8"))
    # One 9 and one 5 go; the other 9 and 5 count: (9 + 6 + 7 + 5 + 8) / 5.
    assert (score, sorted(counted)) == (D("7.00"), [D(5), D(6), D(7), D(8), D(9)])


def test_rounding_is_half_up_to_two_decimals() -> None:
    assert score_of(totals("1.005"))[0] == D("1.01")  # banker's rounding would give 1.00
    assert score_of(totals("2.125", "2.125"))[0] == D("2.13")
    assert score_of(totals("7", "7", "8"))[0] == D("7.33")
    assert score_of(totals("7", "8", "8"))[0] == D("7.67")


def test_open_sheets_or_too_few_graders_keep_it_grading() -> None:
    assert aggregate(totals("7", None, "8"), [], required=3, maximum=MAX, tolerance=TOL).progress is Progress.grading
    assert aggregate(totals("7", "8"), [], required=3, maximum=MAX, tolerance=TOL).progress is Progress.grading
    assert aggregate([], [], required=3, maximum=MAX, tolerance=TOL).progress is Progress.grading


def test_a_spread_within_the_tolerance_is_scored() -> None:
    done = aggregate(totals("7", "8", "9"), [], required=3, maximum=MAX, tolerance=TOL)
    assert (done.progress, done.score, done.spread) == (Progress.scored, D("8.00"), D(2))  # 2 = 0.2 × 10: not past it


def test_a_spread_past_the_tolerance_waits_for_one_extra_grader_then_counts_them() -> None:
    first = totals("3", "8", "8")
    assert aggregate(first, [], required=3, maximum=MAX, tolerance=TOL).progress is Progress.needs_extra
    assert aggregate(first, [None], required=3, maximum=MAX, tolerance=TOL).progress is Progress.grading
    done = aggregate(first, totals("7"), required=3, maximum=MAX, tolerance=TOL)
    assert (done.progress, done.score, done.counted) == (Progress.scored, D("6.50"), (D(3), D(8), D(8), D(7)))


def test_with_the_extra_grader_five_totals_are_trimmed() -> None:
    done = aggregate(totals("1", "8", "8", "9"), totals("7.5"), required=4, maximum=MAX, tolerance=TOL)
    assert (done.progress, done.score) == (Progress.scored, D("7.83"))  # 1 and 9 dropped: (8 + 8 + 7.5) / 3


RUBRIC = [
    {"key": "content", "label": "内容", "max_points": 6, "step": 0.5},
    {"key": "expression", "label": "表达", "max_points": 4, "step": 1, "descriptors": [{"from": 3, "to": 4, "text": "流畅"}]},
]


def test_rubric_scores_are_checked_against_items_ranges_and_steps() -> None:
    rubric = parse(RUBRIC)
    assert rubric.maximum == D(10)
    assert rubric.check_scores({"content": 5.5}, complete=False) == {"content": 5.5}
    assert rubric.total({"content": 5.5, "expression": 3}) == D("8.5")
    for scores, reason in (({"content": 6.5}, "out_of_range"), ({"content": 5.25}, "not_a_step"), ({"nope": 1}, "unknown_item"), ({"expression": -1}, "out_of_range")):
        with pytest.raises(errors.ScoresInvalid) as caught:
            rubric.check_scores(scores, complete=False)
        assert caught.value.details["reason"] == reason
    with pytest.raises(errors.ScoresIncomplete) as missing:
        rubric.check_scores({"content": 5}, complete=True)
    assert missing.value.details == {"missing": ["expression"]}


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        ([], "no_items"),
        ([{"key": "a", "label": "A", "max_points": 5, "step": 2}], "step_must_divide_max_points"),
        ([{"key": "a", "label": "A", "max_points": 5}, {"key": "a", "label": "B", "max_points": 5}], "duplicate_key"),
        ([{"key": "a", "label": "A", "max_points": 5, "descriptors": [{"from": 4, "to": 6, "text": "x"}]}], "descriptor_out_of_range"),
    ],
)
def test_a_bad_rubric_says_why(items: list[dict[str, object]], reason: str) -> None:
    with pytest.raises(errors.RubricInvalid) as caught:
        parse(items)
    assert caught.value.details["reason"] == reason
