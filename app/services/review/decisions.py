"""Decisions on a sitting's conduct, with four eyes on every violation.

A decision is `clean`, `suspicious` (another look is needed: a later decision replaces it), `violation` (reason codes
required) or `technical`. A violation takes effect only when a second staff member, not the first, confirms it; if
they disagree the sitting is `disputed` and ops decide. Ops can reopen a decision with a note (an appeal). Every
version is kept: a new one supersedes the current one, never overwrites it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import Decision, DecisionStatus, Outcome, StaffRole, StaffUser
from app.services.audit import Actor, record
from app.services.review import claims, reasons
from app.services.scope import ExamScope
from app.services.sitting.sittings import SittingView


@dataclass(frozen=True, slots=True)
class Decided:
    view: SittingView
    decision: Decision


def is_settled(decision: Decision | None) -> bool:
    """Whether the review is over: a decision that took effect and asks for no other look."""
    return decision is not None and decision.status is DecisionStatus.final and decision.outcome is not Outcome.suspicious


async def current(db: AsyncSession, *, sitting_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Decision]:
    """The current decision of each sitting that has one (the newest version not superseded)."""
    if not sitting_ids:
        return {}
    rows = await db.scalars(select(Decision).where(Decision.sitting_id.in_(sitting_ids), Decision.superseded_at.is_(None)))
    return {d.sitting_id: d for d in rows}


async def history(db: AsyncSession, *, sitting_id: uuid.UUID) -> list[Decision]:
    """Every version, newest first."""
    return list(await db.scalars(select(Decision).where(Decision.sitting_id == sitting_id).order_by(Decision.version.desc())))


def _open_for_review(view: SittingView, now: datetime) -> None:
    if now < view.windows.answer_starts_at:
        raise errors.ReviewNotOpen()


async def decide(
    db: AsyncSession,
    *,
    sitting_id: uuid.UUID,
    outcome: Outcome,
    reason_codes: Sequence[str],
    note: str | None,
    staff: StaffUser,
    now: datetime,
    scope: ExamScope,
    actor: Actor,
) -> Decided:
    """A new decision, replacing a `suspicious` one (or, by ops, a disputed one); ends the decider's claim."""
    view = await claims.load_one_writer(db, sitting_id=sitting_id, now=now, scope=scope)
    _open_for_review(view, now)
    await claims.ensure_free(db, view=view, staff=staff, now=now)
    codes = reasons.check(reason_codes)
    if outcome is Outcome.violation and not codes:
        raise errors.ViolationReasonRequired()
    before = (await current(db, sitting_ids=[sitting_id])).get(sitting_id)
    resolving = False
    if before is not None:
        if before.status is DecisionStatus.awaiting_second:
            raise errors.ReviewAwaitingSecond(details={"decision_id": str(before.id)})
        if before.status is DecisionStatus.disputed:
            if staff.role is not StaffRole.ops:
                raise errors.ReviewDisputed(details={"decision_id": str(before.id)})
            resolving = True  # two staff members disagreed; ops' decision settles it
        elif before.outcome is not Outcome.suspicious:
            raise errors.ReviewAlreadyDecided(details={"decision_id": str(before.id)})
        before.superseded_at = now
    version = (await db.scalar(select(func.max(Decision.version)).where(Decision.sitting_id == sitting_id)) or 0) + 1
    status = DecisionStatus.awaiting_second if outcome is Outcome.violation and not resolving else DecisionStatus.final
    decision = Decision(
        sitting_id=sitting_id, version=version, outcome=outcome, reason_codes=codes, note=note, status=status,
        decided_by=staff.id, decided_at=now,
    )  # fmt: skip
    db.add(decision)
    await db.flush()
    await claims.drop(db, sitting_id=sitting_id)
    record(db, at=now, actor=actor, action="review.decide", target_kind="sitting", target_id=sitting_id, details={
        "decision_id": str(decision.id), "version": version, "outcome": outcome.value, "reason_codes": codes,
        "status": status.value, "note": note, "resolves_dispute": resolving,
    })  # fmt: skip
    return Decided(view, decision)


async def second(
    db: AsyncSession, *, decision_id: uuid.UUID, agrees: bool, note: str | None, staff: StaffUser, now: datetime, scope: ExamScope, actor: Actor
) -> Decided:
    """The second look at a violation: agreeing makes it take effect, disagreeing sends the sitting to ops."""
    decision = await db.get(Decision, decision_id)
    if decision is None:
        raise errors.DecisionNotFound()
    try:
        view = await claims.load_one_writer(db, sitting_id=decision.sitting_id, now=now, scope=scope)
    except errors.SittingNotFound:
        raise errors.DecisionNotFound() from None  # outside one's exams: not found, like the sitting
    await db.refresh(decision)  # as of the lock: another second may have landed meanwhile
    if decision.superseded_at is not None or decision.status is not DecisionStatus.awaiting_second:
        raise errors.DecisionNotAwaitingSecond(details={"status": decision.status.value, "superseded": decision.superseded_at is not None})
    if decision.decided_by == staff.id:
        raise errors.SecondSamePerson()
    await claims.ensure_free(db, view=view, staff=staff, now=now)
    decision.second_by, decision.second_at, decision.second_agrees, decision.second_note = staff.id, now, agrees, note
    decision.status = DecisionStatus.final if agrees else DecisionStatus.disputed
    await db.flush()
    await claims.drop(db, sitting_id=decision.sitting_id)
    record(db, at=now, actor=actor, action="review.second", target_kind="sitting", target_id=decision.sitting_id, details={
        "decision_id": str(decision.id), "agrees": agrees, "note": note, "status": decision.status.value,
    })  # fmt: skip
    return Decided(view, decision)


async def reopen(db: AsyncSession, *, sitting_id: uuid.UUID, note: str, staff: StaffUser, now: datetime, scope: ExamScope, actor: Actor) -> Decided:
    """Ops set the current decision aside (an appeal, a mistake): kept as a version, and the sitting is undecided
    again until someone decides anew."""
    view = await claims.load_one_writer(db, sitting_id=sitting_id, now=now, scope=scope)
    before = (await current(db, sitting_ids=[sitting_id])).get(sitting_id)
    if before is None:
        raise errors.NothingToReopen()
    before.superseded_at, before.reopen_note, before.reopened_by = now, note, staff.id
    await db.flush()
    record(db, at=now, actor=actor, action="review.reopen", target_kind="sitting", target_id=sitting_id, details={
        "decision_id": str(before.id), "version": before.version, "note": note,
    })  # fmt: skip
    return Decided(view, before)
