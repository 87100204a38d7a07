"""A final score ops set by hand, with the reason: it replaces what the graders' totals make (audited; the results
table says so in the row's reason)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_UP

from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import ScoreOverride
from app.services.audit import Actor, record
from app.services.grading import plan as plans
from app.services.grading.aggregate import CENT
from app.services.grading.rubric import points
from app.services.results.publication import ensure_open
from app.services.sitting import sittings


async def set_score(
    db: AsyncSession, *, sitting_id: uuid.UUID, score: float, reason: str, now: datetime, actor: Actor, staff_id: uuid.UUID | None
) -> tuple[ScoreOverride, str]:
    """The score as stored and the exam's timezone."""
    view = await sittings.load(db, sitting_id=sitting_id, now=now, lock=True)
    grading = await plans.get_plan(db, view.session.id)
    maximum = grading.require_rubric().maximum
    given = points(score).quantize(CENT, rounding=ROUND_HALF_UP)
    if not (0 <= given <= maximum):
        raise errors.ScoresInvalid(details={"reason": "out_of_range", "max_points": float(maximum)})
    await ensure_open(db, session_id=view.session.id)
    row = await db.get(ScoreOverride, sitting_id)
    before = None if row is None else row.score
    if row is None:
        row = ScoreOverride(sitting_id=sitting_id, score=float(given), reason=reason, set_by=staff_id, set_at=now)
        db.add(row)
    row.score, row.reason, row.set_by, row.set_at = float(given), reason, staff_id, now
    await db.flush()
    record(db, at=now, actor=actor, action="grading.score.set", target_kind="sitting", target_id=sitting_id, details={"score": float(given), "before": before, "reason": reason})
    return row, view.timezone
