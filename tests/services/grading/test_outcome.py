"""A sitting's result from its facts (a pure function), one case per rule class."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest

from app.models import Decision, DecisionStatus, Outcome
from app.services.grading.aggregate import Aggregate, Progress
from app.services.results.outcome import ResultState, Standing, result_of
from app.services.review.reasons import REASON_CODES
from app.services.sitting.lifecycle import SittingState

DEFAULTS = {r.code: r.consequence for r in REASON_CODES}
SCORED = Aggregate(Progress.scored, D("7.50"), D(1))


def decision(outcome: Outcome, *codes: str, status: DecisionStatus = DecisionStatus.final) -> Decision:
    return Decision(outcome=outcome, reason_codes=list(codes), status=status, version=1, decided_at=datetime.now(UTC))


def standing(**changes: Any) -> Standing:
    facts: dict[str, Any] = {"state": SittingState.uploaded, "decision": None, "under_review": False, "analysing": False, "grading": SCORED, "override": None}
    return Standing(**{**facts, **changes})


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({}, (ResultState.scored, D("7.50"), "")),
        ({"state": SittingState.absent}, (ResultState.disqualified, None, "absent")),
        ({"state": SittingState.incomplete}, (ResultState.disqualified, None, "incomplete")),
        ({"state": SittingState.terminated}, (ResultState.disqualified, None, "terminated")),
        ({"state": SittingState.terminated, "decision": decision(Outcome.technical)}, (ResultState.pending, None, "technical")),
        ({"state": SittingState.recorded}, (ResultState.pending, None, "in_progress")),
        ({"decision": decision(Outcome.violation, "other_person")}, (ResultState.disqualified, None, "other_person")),
        ({"decision": decision(Outcome.violation, "beauty_filter")}, (ResultState.zero, D(0), "beauty_filter")),
        ({"decision": decision(Outcome.violation, "beauty_filter", "camera_placement")}, (ResultState.disqualified, None, "camera_placement")),
        ({"decision": decision(Outcome.violation, "other_person", status=DecisionStatus.awaiting_second)}, (ResultState.pending, None, "review_open")),
        ({"decision": decision(Outcome.suspicious)}, (ResultState.pending, None, "review_open")),
        ({"decision": decision(Outcome.clean), "under_review": True}, (ResultState.scored, D("7.50"), "")),
        ({"under_review": True}, (ResultState.pending, None, "review_pending")),
        ({"analysing": True}, (ResultState.pending, None, "analysis_pending")),
        ({"grading": None}, (ResultState.pending, None, "grading_not_assigned")),
        ({"grading": Aggregate(Progress.grading, None, None)}, (ResultState.pending, None, "grading")),
        ({"grading": Aggregate(Progress.needs_extra, None, D(5))}, (ResultState.pending, None, "needs_extra_grader")),
        ({"grading": Aggregate(Progress.grading, None, None), "override": D("8.25")}, (ResultState.scored, D("8.25"), "score_set_by_hand")),
        ({"decision": decision(Outcome.violation, "beauty_filter"), "override": D("8.25")}, (ResultState.zero, D(0), "beauty_filter")),
    ],
)
def test_result_of_each_rule_class(facts: dict[str, Any], expected: tuple[ResultState, D | None, str]) -> None:
    result = result_of(standing(**facts), DEFAULTS)
    assert (result.state, result.score, result.reason) == expected


def test_an_exams_own_rule_changes_the_consequence() -> None:
    violation = standing(decision=decision(Outcome.violation, "beauty_filter"))
    assert result_of(violation, {**DEFAULTS, "beauty_filter": "disqualify"}).state is ResultState.disqualified
