"""Results as ops read, publish and export them (times in the exam's offset)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StrictBool, StringConstraints

from app.models import ResultPublication
from app.schemas import Input, Output
from app.services.results.outcome import ResultState
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
