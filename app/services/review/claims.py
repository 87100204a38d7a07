"""Claims: one staff member reviews a sitting at a time, others see who and until when. A claim runs out by itself
(`review_claim_minutes`), so a reviewer who walks away blocks nobody for long."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import ReviewClaim, Sitting, StaffRole, StaffUser
from app.services.audit import Actor, record
from app.services.scope import ExamScope
from app.services.sitting import sittings
from app.services.sitting.sittings import SittingView
from app.services.timezones import to_local


@dataclass(frozen=True, slots=True)
class Holder:
    """A live claim and its holder, as other staff see it."""

    staff_id: uuid.UUID
    username: str
    display_name: str
    claimed_at: datetime
    expires_at: datetime


async def holders(db: AsyncSession, *, sitting_ids: list[uuid.UUID], now: datetime) -> dict[uuid.UUID, Holder]:
    """The live claims of these sittings (run-out ones are as good as none)."""
    if not sitting_ids:
        return {}
    rows = await db.execute(
        select(ReviewClaim, StaffUser)
        .join(StaffUser, StaffUser.id == ReviewClaim.staff_id)
        .where(ReviewClaim.sitting_id.in_(sitting_ids), ReviewClaim.expires_at > now)
    )
    return {c.sitting_id: Holder(s.id, s.username, s.display_name, c.claimed_at, c.expires_at) for c, s in rows}


def _taken(holder: Holder, timezone: str) -> errors.DualcamError:
    return errors.SittingClaimed(
        details={"claimed_by": holder.username, "display_name": holder.display_name, "expires_at": to_local(holder.expires_at, timezone).isoformat()}
    )


async def ensure_free(db: AsyncSession, *, view: SittingView, staff: StaffUser, now: datetime) -> None:
    """Refuse (409 sitting_claimed) while another staff member holds a live claim on the sitting."""
    holder = (await holders(db, sitting_ids=[view.sitting.id], now=now)).get(view.sitting.id)
    if holder is not None and holder.staff_id != staff.id:
        raise _taken(holder, view.timezone)


async def load_one_writer(db: AsyncSession, *, sitting_id: uuid.UUID, now: datetime, scope: ExamScope) -> SittingView:
    """The sitting, its review written by one request at a time: a write to its row comes first, so PostgreSQL
    queues concurrent reviews on the row's lock and SQLite on its write lock (a read first would not queue them
    there). The write leaves the row as it was."""
    view = await sittings.load(db, sitting_id=sitting_id, now=now, scope=scope, lock=True)
    await db.execute(update(Sitting).where(Sitting.id == sitting_id).values(attempt=Sitting.attempt).execution_options(synchronize_session=False))
    return view


async def claim(db: AsyncSession, *, sitting_id: uuid.UUID, staff: StaffUser, now: datetime, ttl: timedelta, scope: ExamScope, actor: Actor) -> tuple[SittingView, Holder]:
    """Take the sitting, or renew one's own claim for another `ttl`; audited."""
    view = await load_one_writer(db, sitting_id=sitting_id, now=now, scope=scope)
    await ensure_free(db, view=view, staff=staff, now=now)
    held = await db.get(ReviewClaim, sitting_id)
    renewed = held is not None and held.staff_id == staff.id and held.expires_at > now
    if held is None:
        held = ReviewClaim(sitting_id=sitting_id)
        db.add(held)
    if not renewed:
        held.staff_id, held.claimed_at = staff.id, now
    held.expires_at = now + ttl
    await db.flush()
    record(db, at=now, actor=actor, action="review.claim", target_kind="sitting", target_id=sitting_id,
           details={"expires_at": held.expires_at.isoformat(), "renewed": renewed})  # fmt: skip
    return view, Holder(staff.id, staff.username, staff.display_name, held.claimed_at, held.expires_at)


async def release(db: AsyncSession, *, sitting_id: uuid.UUID, staff: StaffUser, now: datetime, scope: ExamScope, actor: Actor) -> None:
    """Let go of one's claim (ops may let go of anyone's); releasing a sitting nobody holds changes nothing."""
    view = await load_one_writer(db, sitting_id=sitting_id, now=now, scope=scope)
    holder = (await holders(db, sitting_ids=[sitting_id], now=now)).get(sitting_id)
    if holder is None:
        return
    if holder.staff_id != staff.id and staff.role is not StaffRole.ops:
        raise errors.ClaimNotHeld(details=_taken(holder, view.timezone).details)
    await drop(db, sitting_id=sitting_id)
    record(db, at=now, actor=actor, action="review.release", target_kind="sitting", target_id=sitting_id,
           details={"claimed_by": holder.username})  # fmt: skip


async def drop(db: AsyncSession, *, sitting_id: uuid.UUID) -> None:
    await db.execute(delete(ReviewClaim).where(ReviewClaim.sitting_id == sitting_id))
