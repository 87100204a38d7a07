"""Results as ops read, publish and export them (times in the exam's offset)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StringConstraints

from app.models import FaceCheck, ResultPublication
from app.schemas import Input, Output
from app.services.results.outcome import ResultState
from app.services.results.report import Report
from app.services.results.table import Table
from app.services.review.reasons import BY_CODE
from app.services.timezones import to_local

Consequence = Literal["zero", "disqualify"]


class ResultRowOut(Output):
    candidate_id: uuid.UUID = Field(description="the roster id")
    name: str
    id_number_masked: str
    sitting_id: uuid.UUID | None = Field(description="None: the candidate never confirmed the exam, so never sat it")
    grading_code: str | None = Field(description="the anonymous code graders knew the sitting by")
    sitting_state: str | None
    state: ResultState
    score: float | None
    reason: str = Field(description="a conduct reason code, the sitting state that decided it, or why it is pending")
    graders: dict[str, float | None] = Field(description="each grader's total by grader code (None: not submitted)")


class PublicationOut(Output):
    version: int
    sha256: str = Field(description="sha256 of the rows as canonical JSON (sorted keys, no spaces, UTF-8)")
    published_at: datetime
    published_by: uuid.UUID | None
    reopened_at: datetime | None
    reopen_reason: str | None

    @classmethod
    def of(cls, publication: ResultPublication, timezone: str) -> PublicationOut:
        return cls(
            version=publication.version, sha256=publication.sha256, published_at=to_local(publication.published_at, timezone),  # type: ignore[arg-type]
            published_by=publication.published_by, reopened_at=to_local(publication.reopened_at, timezone), reopen_reason=publication.reopen_reason,
        )  # fmt: skip


class ResultsOut(Output):
    session_id: uuid.UUID
    session_title: str
    timezone: str
    published: PublicationOut | None = Field(description="set: the rows are the ones frozen in this version")
    grader_codes: list[str]
    counts: dict[ResultState, int]
    rows: list[ResultRowOut]

    @classmethod
    def of(cls, table: Table) -> ResultsOut:
        counts = Counter(row["state"] for row in table.rows)
        return cls(
            session_id=table.session.id, session_title=table.session.title, timezone=table.timezone,
            published=PublicationOut.of(table.publication, table.timezone) if table.publication else None,
            grader_codes=table.grader_codes, counts={state: counts.get(state.value, 0) for state in ResultState},
            rows=[ResultRowOut.model_validate(row) for row in table.rows],
        )  # fmt: skip


class PublishIn(Input):
    allow_pending: StrictBool = Field(default=False, description="publish although some rows are pending (they stay pending in this version)")


class ReopenIn(Input):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ConductRuleOut(Output):
    code: str
    label: str
    label_en: str
    consequence: Consequence
    default: Consequence


class ConductRulesIn(Input):
    rules: dict[Annotated[str, StringConstraints(max_length=32)], Consequence] = Field(
        max_length=len(BY_CODE), description="reason code → consequence; codes left out keep the seed's default"
    )


def rules_out(rules: dict[str, str]) -> list[ConductRuleOut]:
    return [
        ConductRuleOut(code=code, label=BY_CODE[code].label, label_en=BY_CODE[code].label_en, consequence=consequence, default=BY_CODE[code].consequence)  # type: ignore[arg-type]
        for code, consequence in rules.items()
    ]


class FaceCheckBrief(Output):
    purpose: str
    similarity: float | None
    threshold: float
    passed: bool
    at: datetime


class RecordingBrief(Output):
    role: str
    status: str
    sha256: str | None
    size: int | None
    duration_s: float | None
    verified_at: datetime | None


class ReportOut(Output):
    """One candidate's report (ops only)."""

    sitting_id: uuid.UUID
    candidate_id: uuid.UUID
    name: str
    id_number_masked: str
    exam_title: str
    session_title: str
    timezone: str
    answer_starts_at: datetime
    answer_ends_at: datetime
    sitting_state: str
    identity_verified_at: datetime | None
    identity_check: FaceCheckBrief | None
    gate_check: FaceCheckBrief | None
    recordings: list[RecordingBrief]
    risk: int
    flag_kinds: dict[str, int]
    decision: dict[str, Any] | None = Field(description="outcome, reason codes, note, who decided and who confirmed")
    result: ResultRowOut | None
    comments: dict[str, str] = Field(description="each grader's comment on their submitted sheet, by grader code")
    published_version: int | None

    @classmethod
    def of(cls, r: Report) -> ReportOut:
        tz = r.view.timezone

        def check(c: FaceCheck | None) -> FaceCheckBrief | None:
            if c is None:
                return None
            return FaceCheckBrief(purpose=c.purpose.value, similarity=c.similarity, threshold=c.threshold, passed=c.passed, at=to_local(c.at, tz))  # type: ignore[arg-type]

        def named(staff_id: uuid.UUID | None) -> str | None:
            return None if staff_id is None else r.staff[staff_id].display_name if staff_id in r.staff else str(staff_id)

        d = r.decision
        decision = None if d is None else {
            "outcome": d.outcome.value, "status": d.status.value, "reason_codes": d.reason_codes, "note": d.note,
            "decided_by": named(d.decided_by), "decided_at": to_local(d.decided_at, tz), "second_by": named(d.second_by),
            "version": d.version,
        }  # fmt: skip
        return cls(
            sitting_id=r.view.sitting.id, candidate_id=r.candidate.id, name=r.candidate.name, id_number_masked=r.candidate.id_number_masked,
            exam_title=r.view.exam.title, session_title=r.view.session.title, timezone=tz,
            answer_starts_at=to_local(r.view.windows.answer_starts_at, tz), answer_ends_at=to_local(r.view.windows.answer_ends_at, tz),  # type: ignore[arg-type]
            sitting_state=r.view.state.value, identity_verified_at=to_local(r.candidate.identity_verified_at, tz),
            identity_check=check(r.identity), gate_check=check(r.gate),
            recordings=[RecordingBrief(role=x.role.value, status=x.status.value, sha256=x.sha256, size=x.size, duration_s=x.duration_seconds, verified_at=to_local(x.verified_at, tz)) for x in r.recordings],  # type: ignore[arg-type]
            risk=r.risk.score, flag_kinds=r.flag_kinds, decision=decision,
            result=ResultRowOut.model_validate(r.result) if r.result else None, comments=r.comments, published_version=r.published_version,
        )  # fmt: skip
