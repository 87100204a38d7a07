"""Flags, risk, analysis jobs and the review queue as staff read them (times in the exam's offset)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from app.flags.risk import Risk
from app.models import AnalysisJob, DecisionStatus, DeviceRole, Flag, FlagSource, Outcome
from app.schemas import Output
from app.services.flags.triage import QueueRow, ReviewQueue, SittingFlags
from app.services.review.decisions import is_settled
from app.services.sitting.lifecycle import SittingState
from app.services.timezones import local_details, to_local


class FlagOut(Output):
    id: uuid.UUID
    kind: str
    role: DeviceRole
    source: FlagSource
    start_s: float = Field(description="seconds from the start of the phone's recording (recording_started_at)")
    end_s: float
    started_at: datetime
    ended_at: datetime
    value: float | None = Field(description="the measured value or a confidence, as `detail` says")
    detail: dict[str, Any]
    analyzer_version: str | None
    recording_id: uuid.UUID | None

    @classmethod
    def of(cls, flag: Flag, timezone: str) -> FlagOut:
        return cls(
            id=flag.id, kind=flag.kind, role=flag.role, source=flag.source, start_s=flag.start_s, end_s=flag.end_s,
            started_at=to_local(flag.started_at, timezone), ended_at=to_local(flag.ended_at, timezone), value=flag.value,
            detail=local_details(flag.detail, timezone), analyzer_version=flag.analyzer_version, recording_id=flag.recording_id,
        )  # fmt: skip


class RiskReasonOut(Output):
    kind: str
    seconds: float
    weight: float
    points: float


class RiskOut(Output):
    score: int = Field(ge=0, le=100)
    reasons: list[RiskReasonOut]

    @classmethod
    def of(cls, found: Risk) -> RiskOut:
        return cls(score=found.score, reasons=[RiskReasonOut.model_validate(r) for r in found.reasons])


class AnalysisOut(Output):
    """The analysis job of one phone's recording: pending | running | done | failed (retries used up)."""

    role: DeviceRole
    job_id: uuid.UUID
    recording_id: uuid.UUID
    status: str
    progress: float = Field(description="share of the recording's duration analysed, 0–1")
    attempts: int
    failure_reason: str | None
    analyzer_version: str
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, role: DeviceRole, job: AnalysisJob, timezone: str) -> AnalysisOut:
        return cls(
            role=role, job_id=job.id, recording_id=job.recording_id, status=job.status.value, progress=job.progress, attempts=job.attempts,
            failure_reason=job.failure_reason, analyzer_version=job.analyzer_version, queued_at=to_local(job.queued_at, timezone),
            started_at=to_local(job.started_at, timezone), finished_at=to_local(job.finished_at, timezone),
        )  # fmt: skip


class SittingFlagsOut(Output):
    sitting_id: uuid.UUID
    state: SittingState
    recording_started_at: dict[DeviceRole, datetime] = Field(description="per phone, the zero of its flags' start_s/end_s")
    flags: list[FlagOut] = Field(description="current flags of both phones, by server time")
    risk: RiskOut
    analysis: list[AnalysisOut]

    @classmethod
    def of(cls, found: SittingFlags) -> SittingFlagsOut:
        tz = found.view.timezone
        return cls(
            sitting_id=found.view.sitting.id,
            state=found.view.state,
            recording_started_at={role: to_local(at, tz) for role, at in found.recording_starts.items()},  # type: ignore[misc]
            flags=[FlagOut.of(f, tz) for f in found.flags],
            risk=RiskOut.of(found.risk),
            analysis=[AnalysisOut.of(role, job, tz) for role, job in sorted(found.jobs.items())],
        )


class QueueItemOut(Output):
    sitting_id: uuid.UUID
    candidate_id: uuid.UUID
    name: str
    id_number_masked: str
    attempt: int
    state: SittingState
    risk: RiskOut
    flag_counts: dict[str, int] = Field(description="current flags by kind")
    audit_sample: bool = Field(description="drawn at random among the low-risk sittings, for an audit")
    analysis: dict[DeviceRole, str] = Field(description="per phone, the status of its recording's analysis")
    claimed_by: str | None = Field(description="the username of the staff member reviewing it now")
    claim_expires_at: datetime | None
    decision: Outcome | None = Field(description="the current decision's outcome, if any")
    decision_status: DecisionStatus | None
    settled: bool = Field(description="a decision took effect")

    @classmethod
    def of(cls, row: QueueRow, timezone: str) -> QueueItemOut:
        return cls(
            sitting_id=row.sitting.id, candidate_id=row.candidate.id, name=row.candidate.name, id_number_masked=row.candidate.id_number_masked,
            attempt=row.sitting.attempt, state=row.state, risk=RiskOut.of(row.risk), flag_counts=row.kinds, audit_sample=row.audit_sample,
            analysis={role: job.status.value for role, job in sorted(row.jobs.items())},
            claimed_by=row.claim.username if row.claim else None, claim_expires_at=to_local(row.claim.expires_at, timezone) if row.claim else None,
            decision=row.decision.outcome if row.decision else None, decision_status=row.decision.status if row.decision else None,
            settled=is_settled(row.decision),
        )  # fmt: skip


class ReviewQueueOut(Output):
    session_id: uuid.UUID
    min_risk: int = Field(description="sittings at or above this risk are queued")
    audit_rate: float = Field(description="share of the other sittings drawn for an audit")
    items: list[QueueItemOut]

    @classmethod
    def of(cls, queue: ReviewQueue) -> ReviewQueueOut:
        return cls(session_id=queue.session.id, min_risk=queue.policy.min_risk, audit_rate=queue.policy.rate, items=[QueueItemOut.of(r, queue.timezone) for r in queue.rows])


class ReanalysisOut(Output):
    sitting_id: uuid.UUID
    analysis: list[AnalysisOut]
