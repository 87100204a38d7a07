"""How the graders' totals of one sitting make its score (a pure function: docs/grading.md).

Fewer than five totals: their mean. Five or more: the highest and the lowest are dropped and the rest averaged
(体操计分). Either way rounded to two decimals, half up. When the first graders' totals spread (max − min) past the
tolerance, one extra grader is asked for and the score waits for them; the extra total then joins the others.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

TRIMMED_FROM = 5
CENT = Decimal("0.01")


class Progress(str, enum.Enum):
    grading = "grading"  # sheets still open
    needs_extra = "needs_extra"  # the spread is past the tolerance: one more grader, then the score
    scored = "scored"


@dataclass(frozen=True, slots=True)
class Aggregate:
    progress: Progress
    score: Decimal | None
    spread: Decimal | None
    # Which totals the score used (the kept ones under 体操计分), in the order given.
    counted: tuple[Decimal, ...] = ()


def score_of(totals: Sequence[Decimal]) -> tuple[Decimal, tuple[Decimal, ...]]:
    """The score of complete totals and the totals it counted."""
    if not totals:
        raise ValueError("no totals to aggregate")
    counted = list(totals)
    if len(counted) >= TRIMMED_FROM:
        counted.remove(max(counted))
        counted.remove(min(counted))
    mean = sum(counted, Decimal(0)) / len(counted)
    return mean.quantize(CENT, rounding=ROUND_HALF_UP), tuple(counted)


def aggregate(
    regular: Sequence[Decimal | None],
    extra: Sequence[Decimal | None],
    *,
    required: int,
    maximum: Decimal,
    tolerance: Decimal,
) -> Aggregate:
    """The state of one sitting's grading. `regular`: the totals of the graders it was assigned (None: not submitted
    yet), at least `required` of them; `extra`: those of graders added because of the spread. The spread is judged on
    the regular totals only, against `tolerance` × `maximum` (the rubric's)."""
    if len(regular) < max(required, 1) or any(total is None for total in regular):
        return Aggregate(Progress.grading, None, None)
    first = [total for total in regular if total is not None]
    spread = max(first) - min(first)
    if spread > tolerance * maximum:
        if not extra:
            return Aggregate(Progress.needs_extra, None, spread)
        if any(total is None for total in extra):
            return Aggregate(Progress.grading, None, spread)
    every = first + [total for total in extra if total is not None]
    score, counted = score_of(every)
    return Aggregate(Progress.scored, score, spread, counted)
