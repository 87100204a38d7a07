"""Facts about a sitting, written by the presence, face and upload rules (the hooks they call). Each hook checks the
state at `now`, so a late call cannot revive a closed sitting; each change is announced on the sitting's channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.db import publish_after_commit
from app.services.audit import Actor, record
from app.services.sitting import staff_feed
from app.services.sitting.channels import sitting_channel
from app.services.sitting.lifecycle import FINAL_STATES, SittingState
from app.services.sitting.sittings import SittingView


def _announce(db: AsyncSession, view: SittingView, state: SittingState, **extra: object) -> None:
    publish_after_commit(db, sitting_channel(view.sitting.id), {"type": "sitting.state", "sitting_id": str(view.sitting.id), "state": state.value, **extra})
    staff_feed.changed(db, session_id=view.session.id, sitting_id=view.sitting.id, what="state")


def mark_face_passed(db: AsyncSession, *, view: SittingView, now: datetime) -> bool:
    """The waiting-room face gate passed. Counts only while waiting; readiness
    then needs both phones online (app.services.sitting.presence.refresh_readiness)."""
    if view.state not in (SittingState.waiting, SittingState.ready):
        return False
    view.sitting.face_passed_at = now
    record(db, at=now, actor=Actor("system"), action="sitting.face_passed", target_kind="sitting", target_id=view.sitting.id)
    return True


def mark_ready(db: AsyncSession, *, view: SittingView, now: datetime) -> SittingState:
    """Face passed and both phones online: the candidate may enter."""
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
    """Interruption policy broken, or an ops decision. `at` is when the rule was broken
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
    if view.sitting.outcome == SittingState.incomplete.value:
        # The deadline was judged while this verification still waited in the queue: every byte was in before it.
        view.sitting.outcome = view.sitting.outcome_at = None
    view.sitting.uploaded_at = now
    record(db, at=now, actor=Actor("system"), action="sitting.uploaded", target_kind="sitting", target_id=view.sitting.id)
    _announce(db, view, SittingState.uploaded)
    return SittingState.uploaded
