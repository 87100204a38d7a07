"""Facts about a sitting, written by the device, face and upload services (the hooks they call), and the
ops views of sittings. Each hook checks the state at `now`, so a late call cannot revive a closed sitting."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.adapters.hub import device_channel, sitting_channel
from app.db import publish_after_commit
from app.models import Candidate, Device, DeviceRole, ExamSession, ProctorEvent, Role, Sitting
from app.services import auth
from app.services.audit import Actor, record
from app.services.exam.candidates import SittingView, view_of
from app.services.sitting.lifecycle import FINAL_STATES, SittingState, state_of


def _announce(db: AsyncSession, view: SittingView, state: SittingState, **extra: object) -> None:
    publish_after_commit(db, sitting_channel(view.sitting.id), {"type": "sitting.state", "sitting_id": str(view.sitting.id), "state": state.value, **extra})


def mark_face_passed(db: AsyncSession, *, view: SittingView, now: datetime) -> bool:
    """The waiting-room face gate passed (face issue calls this). Counts only while waiting; readiness
    then needs both phones online (app.services.sitting.presence.refresh_readiness)."""
    if view.state not in (SittingState.waiting, SittingState.ready):
        return False
    view.sitting.face_passed_at = now
    record(db, at=now, actor=Actor("system"), action="sitting.face_passed", target_kind="sitting", target_id=view.sitting.id)
    return True


def mark_ready(db: AsyncSession, *, view: SittingView, now: datetime) -> SittingState:
    """Face passed and both phones online (realtime issue calls this): the candidate may enter."""
    if view.state is SittingState.waiting and view.sitting.ready_at is None:
        view.sitting.ready_at = now
        record(db, at=now, actor=Actor("system"), action="sitting.ready", target_kind="sitting", target_id=view.sitting.id)
        _announce(db, view, SittingState.ready)
        return SittingState.ready
    return view.state


def stop_recording(db: AsyncSession, *, view: SittingView, now: datetime, actor: Actor) -> SittingState:
    """Manual early stop during answering."""
    if view.state is not SittingState.answering:
        raise errors.SittingClosed()
    view.sitting.recording_stopped_at = now
    record(db, at=now, actor=actor, action="sitting.recording.stop", target_kind="sitting", target_id=view.sitting.id)
    _announce(db, view, SittingState.recorded, command="stop")
    return SittingState.recorded


def terminate(
    db: AsyncSession, *, view: SittingView, reason: str, now: datetime, actor: Actor, at: datetime | None = None
) -> SittingState:
    """Interruption policy broken (realtime issue) or an ops decision. `at` is when the rule was broken
    (a late detection terminates as of that moment, so the state does not depend on when it was noticed)."""
    if view.state in FINAL_STATES:
        return view.state
    view.sitting.terminated_at, view.sitting.terminated_reason = at or now, reason
    record(db, at=now, actor=actor, action="sitting.terminate", target_kind="sitting", target_id=view.sitting.id, details={"reason": reason, "at": (at or now).isoformat()})
    _announce(db, view, SittingState.terminated, reason=reason, command="stop")
    return SittingState.terminated


def mark_uploaded(db: AsyncSession, *, view: SittingView, now: datetime) -> SittingState:
    """Both recordings verified (app.services.recordings.recordings), before the deadline. While still answering by the server's
    clock too: both phones stopped a moment early by their own (synchronised, not identical) clocks."""
    if view.state not in (SittingState.answering, SittingState.recorded):
        return view.state
    if view.sitting.recording_stopped_at is None and view.state is SittingState.answering:
        view.sitting.recording_stopped_at = now
    view.sitting.uploaded_at = now
    record(db, at=now, actor=Actor("system"), action="sitting.uploaded", target_kind="sitting", target_id=view.sitting.id)
    _announce(db, view, SittingState.uploaded)
    return SittingState.uploaded


async def login_device(
    db: AsyncSession, *, candidate: Candidate, view: SittingView, role: DeviceRole, now: datetime, ttl: timedelta
) -> tuple[Device, auth.IssuedToken]:
    """Log a phone in as main or aux for a sitting; a new log-in of a role supersedes the previous phone."""
    if view.state in FINAL_STATES:
        raise errors.SittingClosed()
    previous = (
        await db.scalars(
            select(Device).where(Device.sitting_id == view.sitting.id, Device.role == role, Device.superseded_at.is_(None))
        )
    ).all()
    for old in previous:
        old.superseded_at = now
        await auth.revoke_device_tokens(db, device_id=old.id, now=now)
        db.add(ProctorEvent(sitting_id=view.sitting.id, device_id=old.id, source="server", kind="device_superseded", at=now, details={"role": role.value}))
        # The old phone's socket is told why and closed (wherever it is connected).
        publish_after_commit(db, device_channel(old.id), {"type": "command", "command": "close", "reason": "superseded"})
    device = Device(sitting_id=view.sitting.id, candidate_id=candidate.id, role=role, created_at=now)
    db.add(device)
    await db.flush()
    record(db, at=now, actor=Actor("candidate", str(candidate.id)), action="device.login", target_kind="device", target_id=device.id, details={"role": role.value, "sitting_id": str(view.sitting.id), "superseded": [str(d.id) for d in previous]})
    issued = await auth.issue_token(db, role=Role.device, now=now, ttl=ttl, device_id=device.id)
    return device, issued


@dataclass(frozen=True, slots=True)
class SittingRow:
    sitting: Sitting
    candidate: Candidate
    state: SittingState


async def session_sittings(db: AsyncSession, *, session: ExamSession, now: datetime) -> list[SittingRow]:
    rows = await db.execute(
        select(Sitting, Candidate)
        .join(Candidate, Candidate.id == Sitting.candidate_id)
        .where(Sitting.session_id == session.id)
        .order_by(Candidate.name, Sitting.attempt)
    )
    return [SittingRow(r.Sitting, r.Candidate, state_of(session, r.Sitting, now)) for r in rows]


async def session_status(db: AsyncSession, *, session: ExamSession, now: datetime) -> dict[SittingState, int]:
    counts = Counter(row.state for row in await session_sittings(db, session=session, now=now))
    return {state: counts.get(state, 0) for state in SittingState}


async def get_sitting_for_device(db: AsyncSession, *, device: Device, now: datetime) -> SittingView:
    row = (
        await db.execute(
            select(Sitting, ExamSession).join(ExamSession, ExamSession.id == Sitting.session_id).where(Sitting.id == device.sitting_id)
        )
    ).first()
    if row is None:
        raise errors.SittingNotFound()
    return view_of(row.ExamSession, row.Sitting, now)


async def get_sitting_row(db: AsyncSession, sitting_id: object) -> Sitting | None:
    return await db.get(Sitting, sitting_id)
