"""What a reviewer marks while watching: a verdict on each flag (confirmed or dismissed, with a note), and incidents
at a moment of the answer window that no flag caught, each with a reason code."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import DeviceRole, Flag, FlagVerdict, Incident, StaffUser, Verdict
from app.services.audit import Actor, record
from app.services.review import claims, reasons
from app.services.scope import ExamScope
from app.services.sitting.sittings import SittingView


async def set_verdict(
    db: AsyncSession, *, flag_id: uuid.UUID, verdict: Verdict, note: str | None, staff: StaffUser, now: datetime, scope: ExamScope, actor: Actor
) -> tuple[SittingView, Flag, FlagVerdict]:
    """Confirm or dismiss a flag (a later verdict replaces the earlier one; each is audited)."""
    flag = await db.get(Flag, flag_id)
    if flag is None:
        raise errors.FlagNotFound()
    try:
        view = await claims.load_one_writer(db, sitting_id=flag.sitting_id, now=now, scope=scope)
    except errors.SittingNotFound:
        raise errors.FlagNotFound() from None  # outside one's exams: not found, like the sitting
    await claims.ensure_free(db, view=view, staff=staff, now=now)
    row = await db.get(FlagVerdict, flag_id)
    if row is None:
        row = FlagVerdict(flag_id=flag_id, sitting_id=flag.sitting_id)
        db.add(row)
    row.verdict, row.note, row.staff_id, row.at = verdict, note, staff.id, now
    await db.flush()
    record(db, at=now, actor=actor, action="review.verdict", target_kind="sitting", target_id=flag.sitting_id,
           details={"flag_id": str(flag_id), "kind": flag.kind, "verdict": verdict.value, "note": note})  # fmt: skip
    return view, flag, row


async def verdicts(db: AsyncSession, *, sitting_id: uuid.UUID) -> dict[uuid.UUID, FlagVerdict]:
    return {v.flag_id: v for v in await db.scalars(select(FlagVerdict).where(FlagVerdict.sitting_id == sitting_id))}


async def add_incident(
    db: AsyncSession,
    *,
    sitting_id: uuid.UUID,
    offset_s: float,
    role: DeviceRole | None,
    reason_code: str,
    note: str | None,
    staff: StaffUser,
    now: datetime,
    scope: ExamScope,
    actor: Actor,
) -> tuple[SittingView, Incident]:
    """An incident `offset_s` seconds after answer start (the player's position), within the answer window."""
    view = await claims.load_one_writer(db, sitting_id=sitting_id, now=now, scope=scope)
    window = (view.windows.answer_ends_at - view.windows.answer_starts_at).total_seconds()
    if now < view.windows.answer_starts_at:
        raise errors.ReviewNotOpen()
    if not 0 <= offset_s <= window:
        raise errors.IncidentOutsideWindow(details={"offset_s": offset_s, "answer_seconds": window})
    await claims.ensure_free(db, view=view, staff=staff, now=now)
    (code,) = reasons.check([reason_code])
    incident = Incident(
        sitting_id=sitting_id, role=role, offset_s=offset_s, occurred_at=view.windows.answer_starts_at + timedelta(seconds=offset_s),
        reason_code=code, note=note, staff_id=staff.id, created_at=now,
    )  # fmt: skip
    db.add(incident)
    await db.flush()
    record(db, at=now, actor=actor, action="review.incident", target_kind="sitting", target_id=sitting_id,
           details={"incident_id": str(incident.id), "offset_s": offset_s, "reason_code": code, "role": role.value if role else None})  # fmt: skip
    return view, incident


async def incidents(db: AsyncSession, *, sitting_ids: Sequence[uuid.UUID]) -> list[Incident]:
    if not sitting_ids:
        return []
    return list(await db.scalars(select(Incident).where(Incident.sitting_id.in_(sitting_ids)).order_by(Incident.offset_s, Incident.created_at)))
