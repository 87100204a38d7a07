"""One sitting's result, a pure function of its facts (like the sitting state): docs/grading.md has the table.

`disqualified`: absent, incomplete (not both recordings by the deadline), terminated, or a confirmed violation whose
reason disqualifies; `zero`: a confirmed violation whose reasons give zero; `scored`: graded (or set by hand) with no
violation; `pending`: answering, under review, analysis or grading not finished.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from app.models import Decision, DecisionStatus, Outcome
from app.services.grading.aggregate import Aggregate, Progress
from app.services.sitting.lifecycle import SittingState


class ResultState(str, enum.Enum):
    scored = "scored"
    zero = "zero"
    disqualified = "disqualified"
    pending = "pending"


@dataclass(frozen=True, slots=True)
class Standing:
    state: SittingState
    decision: Decision | None  # the current conduct decision
    under_review: bool  # in the review queue (risk or audit sample) with no settled decision
    analysing: bool  # a recording's analysis has not finished
    grading: Aggregate | None  # None: no rubric or no grader yet
    override: Decimal | None  # a final score ops set by hand


@dataclass(frozen=True, slots=True)
class Result:
    state: ResultState
    score: Decimal | None
    reason: str  # a conduct reason code, a sitting state, or why it is pending


_FAILED = {SittingState.absent: "absent", SittingState.incomplete: "incomplete", SittingState.terminated: "terminated"}


def result_of(standing: Standing, consequences: Mapping[str, str]) -> Result:
    decision = standing.decision
    settled = decision is not None and decision.status is DecisionStatus.final and decision.outcome is not Outcome.suspicious
    if standing.state in _FAILED:
        # A review that found the system or the network at fault leaves it to ops (a re-sit), never to the rule.
        if settled and decision is not None and decision.outcome is Outcome.technical:
            return Result(ResultState.pending, None, "technical")
        return Result(ResultState.disqualified, None, _FAILED[standing.state])
    if standing.state is not SittingState.uploaded:
        return Result(ResultState.pending, None, "in_progress")
    if decision is not None and not settled:
        return Result(ResultState.pending, None, "review_open")
    if settled and decision is not None and decision.outcome is Outcome.violation:
        codes = list(decision.reason_codes) or ["other"]
        disqualifying = [code for code in codes if consequences.get(code) == "disqualify"]
        if disqualifying:
            return Result(ResultState.disqualified, None, disqualifying[0])
        return Result(ResultState.zero, Decimal(0), codes[0])
    if not settled and standing.analysing:
        return Result(ResultState.pending, None, "analysis_pending")
    if not settled and standing.under_review:
        return Result(ResultState.pending, None, "review_pending")
    if standing.override is not None:
        return Result(ResultState.scored, standing.override, "score_set_by_hand")
    if standing.grading is None:
        return Result(ResultState.pending, None, "grading_not_assigned")
    if standing.grading.progress is Progress.needs_extra:
        return Result(ResultState.pending, None, "needs_extra_grader")
    if standing.grading.progress is not Progress.scored:
        return Result(ResultState.pending, None, "grading")
    return Result(ResultState.scored, standing.grading.score, "")
