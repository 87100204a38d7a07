"""Which graders score which sittings: N per sitting, balanced over the session's graders, never one grader twice on a
sitting; one extra grader when the first ones disagree; and the anonymous code each graded sitting is known by."""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ExamSession, GradeSheet, GradingCode, Sitting
from app.services.audit import Actor, record
from app.services.grading import plan as plans
from app.services.grading.aggregate import Progress
from app.services.grading.progress import progress_of
from app.services.sitting.lifecycle import SittingState, state_of

CODE_PREFIX = "A-"


@dataclass(slots=True)
class AssignReport:
    sittings: int = 0  # graded sittings (both recordings verified)
    sheets_added: int = 0
    extra_added: int = 0
    # Sittings that got fewer graders than the plan asks (too few graders in the session), with how many they lack.
    short: dict[uuid.UUID, int] = field(default_factory=dict)


async def gradable(db: AsyncSession, *, session: ExamSession, now: datetime) -> list[Sitting]:
    """The sittings graders score: both recordings verified (the sitting is `uploaded`), in their code order once
    they have one."""
    rows = await db.scalars(select(Sitting).where(Sitting.session_id == session.id, Sitting.uploaded_at.is_not(None)))
    return [s for s in rows if state_of(session, s, now) is SittingState.uploaded]


async def ensure_codes(db: AsyncSession, *, session_id: uuid.UUID, sittings: Iterable[Sitting]) -> dict[uuid.UUID, str]:
    """Each sitting's anonymous code, drawing one at random for those without: A-0137 says nothing of roster order
    or of when the candidate sat. Four digits while a session has under 5,000 codes, more past that."""
    existing = {row.sitting_id: row.code for row in await db.scalars(select(GradingCode).where(GradingCode.session_id == session_id))}
    wanted = [s.id for s in sittings if s.id not in existing]
    used = set(existing.values())
    digits = 4
    while 10**digits < 2 * (len(used) + len(wanted)):
        digits += 1
    for sitting_id in wanted:
        while (code := f"{CODE_PREFIX}{secrets.randbelow(10**digits - 1) + 1:0{digits}d}") in used:
            pass
        used.add(code)
        existing[sitting_id] = code
        db.add(GradingCode(sitting_id=sitting_id, session_id=session_id, code=code))
    await db.flush()
    return existing


async def _sheets(db: AsyncSession, session_id: uuid.UUID) -> list[GradeSheet]:
    return list(await db.scalars(select(GradeSheet).where(GradeSheet.session_id == session_id)))


def _pick(graders: list[uuid.UUID], load: Counter[uuid.UUID], taken: set[uuid.UUID], count: int) -> list[uuid.UUID]:
    """The `count` least loaded graders not on the sitting yet (ties by grader code: the order of `graders`)."""
    free = sorted((g for g in graders if g not in taken), key=lambda g: (load[g], graders.index(g)))
    return free[:count]


async def assign(db: AsyncSession, *, session_id: uuid.UUID, now: datetime, actor: Actor) -> AssignReport:
    """Give every graded sitting its graders, and an extra one where the first disagree. Idempotent: run again after
    more recordings arrived or graders were added, it only fills what is missing."""
    grading = await plans.get_plan(db, session_id)
    grading.require_rubric()
    session = grading.session
    sittings = await gradable(db, session=session, now=now)
    codes = await ensure_codes(db, session_id=session_id, sittings=sittings)
    graders = [g.staff.id for g in await plans.graders(db, session_id=session_id)]
    sheets = await _sheets(db, session_id)
    load = Counter(sheet.grader_id for sheet in sheets)
    report = AssignReport(sittings=len(sittings))
    for sitting in sorted(sittings, key=lambda s: codes[s.id]):
        mine = [sheet for sheet in sheets if sheet.sitting_id == sitting.id]
        taken = {sheet.grader_id for sheet in mine}
        regular = sum(1 for sheet in mine if not sheet.extra)
        needed = grading.graders_per_sitting - regular
        if needed > 0:
            chosen = _pick(graders, load, taken, needed)
            for grader_id in chosen:
                sheets.append(_add(db, sitting, grader_id, now=now, extra=False))
                load[grader_id] += 1
                taken.add(grader_id)
            report.sheets_added += len(chosen)
            if len(chosen) < needed:
                report.short[sitting.id] = needed - len(chosen)
            continue
        if progress_of(grading, mine).progress is Progress.needs_extra:
            report.extra_added += await _add_extra(db, sitting, graders, load, taken, now=now, sheets=sheets)
    await db.flush()
    record(db, at=now, actor=actor, action="grading.assign", target_kind="session", target_id=session_id, details={
        "sittings": report.sittings, "sheets_added": report.sheets_added, "extra_added": report.extra_added,
        "short": len(report.short),
    })  # fmt: skip
    return report


async def _add_extra(
    db: AsyncSession, sitting: Sitting, graders: list[uuid.UUID], load: Counter[uuid.UUID], taken: set[uuid.UUID],
    *, now: datetime, sheets: list[GradeSheet],
) -> int:  # fmt: skip
    chosen = _pick(graders, load, taken, 1)
    for grader_id in chosen:
        sheets.append(_add(db, sitting, grader_id, now=now, extra=True))
        load[grader_id] += 1
    return len(chosen)


async def add_extra_if_needed(db: AsyncSession, *, grading: plans.Plan, sitting: Sitting, now: datetime) -> bool:
    """After a submission: when the first graders now disagree past the tolerance, one extra grader at once (the
    least loaded free one). False when none is free: the sitting waits for ops to add a grader and assign again."""
    sheets = await _sheets(db, sitting.session_id)
    mine = [sheet for sheet in sheets if sheet.sitting_id == sitting.id]
    if progress_of(grading, mine).progress is not Progress.needs_extra:
        return False
    graders = [g.staff.id for g in await plans.graders(db, session_id=sitting.session_id)]
    load = Counter(sheet.grader_id for sheet in sheets)
    added = await _add_extra(db, sitting, graders, load, {sheet.grader_id for sheet in mine}, now=now, sheets=sheets)
    await db.flush()
    return added > 0


def _add(db: AsyncSession, sitting: Sitting, grader_id: uuid.UUID, *, now: datetime, extra: bool) -> GradeSheet:
    sheet = GradeSheet(sitting_id=sitting.id, session_id=sitting.session_id, grader_id=grader_id, extra=extra, assigned_at=now, scores={})
    db.add(sheet)
    return sheet
