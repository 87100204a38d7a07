"""The sitting state machine: one pure function of facts and server time.

Windows are half-open: waiting [waiting_opens_at, answer_starts_at), answering [answer_starts_at, answer_ends_at),
uploading [answer_ends_at, upload_deadline). At a boundary instant the later phase holds.

Not ready at the answer start (face check passed and both phones online before it): a mock or formal sitting is
`absent` — the candidate missed a scheduled session. A practice attempt has no schedule to miss: its waiting is
the session's `waiting_seconds` from the moment the candidate started it, and an attempt not ready when that ends
simply ends unfinished, `incomplete` (未完成), like one whose recording did not arrive by its deadline; the
candidate starts another.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.models import ExamSession, SessionKind, Sitting


class SittingState(str, enum.Enum):
    scheduled = "scheduled"
    waiting = "waiting"
    ready = "ready"
    answering = "answering"
    recorded = "recorded"
    uploaded = "uploaded"
    absent = "absent"
    terminated = "terminated"
    incomplete = "incomplete"


FINAL_STATES = frozenset({SittingState.uploaded, SittingState.absent, SittingState.terminated, SittingState.incomplete})


@dataclass(frozen=True, slots=True)
class Windows:
    waiting_opens_at: datetime
    answer_starts_at: datetime
    answer_ends_at: datetime
    upload_deadline: datetime
    # A practice attempt's own windows (from its start), not a session's schedule: missing the start is no absence.
    practice: bool = False


@dataclass(frozen=True, slots=True)
class Facts:
    ready_at: datetime | None = None
    recording_stopped_at: datetime | None = None
    terminated_at: datetime | None = None
    uploaded_at: datetime | None = None


def sitting_state(windows: Windows, facts: Facts, now: datetime) -> SittingState:
    if facts.terminated_at is not None and facts.terminated_at <= now:
        return SittingState.terminated
    if facts.uploaded_at is not None and facts.uploaded_at <= now:
        return SittingState.uploaded
    if now < windows.waiting_opens_at:
        return SittingState.scheduled
    # Readiness counts only if reached inside the waiting window (before answering starts).
    ready = facts.ready_at is not None and facts.ready_at < windows.answer_starts_at and facts.ready_at <= now
    if now < windows.answer_starts_at:
        return SittingState.ready if ready else SittingState.waiting
    if not ready:
        return SittingState.incomplete if windows.practice else SittingState.absent
    stopped = facts.recording_stopped_at is not None and facts.recording_stopped_at <= now
    if now < windows.answer_ends_at and not stopped:
        return SittingState.answering
    if now < windows.upload_deadline:
        return SittingState.recorded
    return SittingState.incomplete


def windows_for(session: ExamSession, sitting: Sitting | None = None) -> Windows:
    """Mock/formal: the session's times. Practice: the session's durations from the attempt's start."""
    if session.kind is SessionKind.practice:
        if sitting is None or sitting.started_at is None:
            raise ValueError("a practice window needs a started attempt")
        assert session.waiting_seconds is not None and session.answer_seconds is not None
        assert session.upload_seconds is not None
        opens = sitting.started_at
        starts = opens + timedelta(seconds=session.waiting_seconds)
        ends = starts + timedelta(seconds=session.answer_seconds)
        return Windows(opens, starts, ends, ends + timedelta(seconds=session.upload_seconds), practice=True)
    assert session.waiting_opens_at and session.answer_starts_at and session.answer_ends_at and session.upload_deadline
    return Windows(session.waiting_opens_at, session.answer_starts_at, session.answer_ends_at, session.upload_deadline)


def missed_start(windows: Windows, facts: Facts, now: datetime) -> bool:
    """The answer start has passed and the sitting was not ready before it: it never answers, has no question and
    no recording (absent; for practice, an attempt that ended unfinished)."""
    ready = facts.ready_at is not None and facts.ready_at < windows.answer_starts_at
    return now >= windows.answer_starts_at and not ready


def facts_of(sitting: Sitting) -> Facts:
    return Facts(
        ready_at=sitting.ready_at,
        recording_stopped_at=sitting.recording_stopped_at,
        terminated_at=sitting.terminated_at,
        uploaded_at=sitting.uploaded_at,
    )


def state_of(session: ExamSession, sitting: Sitting, now: datetime) -> SittingState:
    return sitting_state(windows_for(session, sitting), facts_of(sitting), now)
