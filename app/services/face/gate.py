"""The waiting-room gate: the main phone's live capture against the enrolment; a pass is the face half of `ready`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import Candidate, Device, FaceCheck, FacePurpose, Sitting
from app.services.face.checks import main_only, recent_attempt, record_check, verify
from app.services.face.engine import FacePolicy, Faces, rate_limited, seconds
from app.services.face.enrolment import enrolment_for
from app.services.sitting import presence, sittings
from app.services.sitting.lifecycle import FINAL_STATES, SittingState
from app.services.sitting.sittings import SittingView


@dataclass(frozen=True, slots=True)
class GateAttempt:
    check: FaceCheck
    state: SittingState
    failures_in_row: int
    cooldown_until: datetime | None
    timezone: str


async def waiting_gate(
    db: AsyncSession, *, device: Device, candidate: Candidate, image: bytes, faces: Faces, now: datetime
) -> GateAttempt:
    """The main phone's live capture during the waiting window, against the enrolment. A pass is the face half of
    `ready` (presence.face_passed adds both phones online); `gate_max_failures` counted failures in a row start a
    cool-down."""
    main_only(device)
    faces.throttle.hit(f"device:{device.id}", now=now, interval=faces.policy.min_interval)
    view = await sittings.load(db, sitting_id=device.sitting_id, now=now)
    _gate_open(view)
    if candidate.identity_verified_at is None:
        raise errors.IdentityNotVerified()
    await _cooling_down(db, view=view, policy=faces.policy, now=now)
    await recent_attempt(db, faces, now, FaceCheck.device_id == device.id)
    enrolment = await enrolment_for(db, candidate=candidate, faces=faces, now=now)
    result = await verify(faces.engine, image, enrolment, candidate=candidate)
    streak = await _claim_attempt(db, view=view, faces=faces, now=now)
    check = await record_check(db, faces, candidate=candidate, purpose=FacePurpose.waiting, result=result, image=image, now=now, view=view, device=device)
    state = view.state
    if check.passed:
        streak, state = 0, await presence.face_passed(db, view=view, now=now, timeout=faces.policy.presence_timeout)
    elif check.counted:
        streak += 1
    until = _cooldown_until(streak, now, faces.policy) if check.counted and not check.passed else None
    return GateAttempt(check, state, streak, until, view.timezone)


async def _cooling_down(db: AsyncSession, *, view: SittingView, policy: FacePolicy, now: datetime) -> int:
    """Refuse a capture during a cool-down; otherwise the counted failures in a row so far."""
    streak, last_failure = await _failure_streak(db, sitting_id=view.sitting.id)
    cooldown_until = _cooldown_until(streak, last_failure, policy)
    if cooldown_until is not None and now < cooldown_until:
        wait = cooldown_until - now
        raise errors.FaceCooldown(details={"until": cooldown_until.isoformat(), "retry_after": seconds(wait)}, headers={"Retry-After": str(seconds(wait))})
    return streak


async def _claim_attempt(db: AsyncSession, *, view: SittingView, faces: Faces, now: datetime) -> int:
    """Hold the sitting's gate claim before the capture is recorded, or be refused; returns the failures in a row.
    One conditional update: of captures judged at once (in any number of processes) one holds it and the others
    wait for its commit, so each counts the failures before it and none runs past a cool-down; one that finds a
    capture judged within `min_interval` is refused, as the throttle would have refused it in the same process."""
    interval = faces.policy.min_interval
    free = or_(Sitting.gate_attempt_at.is_(None), Sitting.gate_attempt_at <= now - interval, Sitting.gate_attempt_at > now)
    claimed = await db.scalar(update(Sitting).where(Sitting.id == view.sitting.id, free).values(gate_attempt_at=now).returning(Sitting.id))
    streak = await _cooling_down(db, view=view, policy=faces.policy, now=now)  # counted again, after the others
    if claimed is None:
        await db.refresh(view.sitting, ["gate_attempt_at"])
        raise rate_limited((view.sitting.gate_attempt_at or now) + interval - now)
    return streak


def _gate_open(view: SittingView) -> None:
    if view.state in (SittingState.waiting, SittingState.ready):
        return
    if view.state in FINAL_STATES:
        raise errors.SittingClosed()
    if view.state is SittingState.scheduled:
        raise errors.FaceGateClosed(details={"opens_at": view.windows.waiting_opens_at.isoformat()})
    raise errors.FaceGateClosed(details={"closed_at": view.windows.answer_starts_at.isoformat()})


async def _failure_streak(db: AsyncSession, *, sitting_id: uuid.UUID) -> tuple[int, datetime | None]:
    """Counted gate failures since the last pass, and when the latest was."""
    rows = (
        await db.execute(
            select(FaceCheck.passed, FaceCheck.at)
            .where(FaceCheck.sitting_id == sitting_id, FaceCheck.purpose == FacePurpose.waiting, FaceCheck.counted.is_(True))
            .order_by(FaceCheck.at.desc(), FaceCheck.id)
            .limit(100)
        )
    ).all()
    streak = 0
    for passed, _ in rows:
        if passed:
            break
        streak += 1
    return streak, rows[0].at if streak else None


def _cooldown_until(streak: int, last_failure: datetime | None, policy: FacePolicy) -> datetime | None:
    """Every `gate_max_failures`-th failure in a row starts a cool-down (3 → wait, 3 more → wait again)."""
    if last_failure is None or streak == 0 or streak % policy.gate_max_failures or not policy.cooldown:
        return None
    return last_failure + policy.cooldown
