"""Where one sitting's grading stands, from its sheets and the session's plan."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from app.models import GradeSheet
from app.services.grading import plan as plans
from app.services.grading.aggregate import Aggregate, aggregate
from app.services.grading.rubric import points


def total_of(sheet: GradeSheet) -> Decimal | None:
    """A submitted sheet's total; None while it is open."""
    return None if sheet.submitted_at is None or sheet.total is None else points(sheet.total)


def progress_of(grading: plans.Plan, sheets: Sequence[GradeSheet]) -> Aggregate:
    rubric = grading.require_rubric()
    return aggregate(
        [total_of(s) for s in sheets if not s.extra],
        [total_of(s) for s in sheets if s.extra],
        required=grading.graders_per_sitting,
        maximum=rubric.maximum,
        tolerance=points(grading.tolerance),
    )
