"""Grading as ops set it up and graders do it. What a grader reads (QueueEntryOut, SheetOut) holds nothing that
identifies a candidate: an anonymous code, the question, the recordings' links and the grader's own scores."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictFloat, StrictInt, StringConstraints

from app.models import GradeSheet
from app.schemas import Input, Output
from app.services.grading import plan as plans
from app.services.grading.assignment import AssignReport
from app.services.grading.sheets import QueueEntry, SheetView
from app.services.timezones import to_local

Points = Annotated[StrictFloat | StrictInt, Field(ge=0, le=1000, allow_inf_nan=False)]
Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class DescriptorIn(Input):
    from_: Points = Field(alias="from", description="the band's lowest points")
    to: Points = Field(description="the band's highest points")
    text: Text
    text_en: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class RubricItemIn(Input):
    key: Key = Field(description="stable id of the item (lower-case letters, digits, _)")
    label: Text
    label_en: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""
    max_points: Points
    step: Points = Field(default=1, description="scores move in steps of this (it must divide max_points)")
    descriptors: list[DescriptorIn] = Field(default_factory=list, max_length=10)


class GradingPlanIn(Input):
    items: list[RubricItemIn] = Field(min_length=1, max_length=20)
    graders_per_sitting: StrictInt = Field(default=plans.DEFAULT_GRADERS, ge=1, le=9, description="5 or more: 体操计分")
    tolerance: StrictFloat | StrictInt = Field(
        default=plans.DEFAULT_TOLERANCE, ge=0, le=1, description="largest spread of the graders' totals, as a share of the maximum"
    )

    def items_json(self) -> list[dict[str, Any]]:
        return [item.model_dump(by_alias=True) for item in self.items]


class GraderOut(Output):
    staff_id: uuid.UUID
    username: str
    display_name: str
    code: str = Field(description="how exports name the grader (G01, G02, …)")
    assigned_at: datetime

    @classmethod
    def of(cls, grader: plans.Grader, timezone: str) -> GraderOut:
        staff = grader.staff
        return cls(staff_id=staff.id, username=staff.username, display_name=staff.display_name, code=grader.code, assigned_at=to_local(grader.assigned_at, timezone))  # type: ignore[arg-type]


class GradingPlanOut(Output):
    session_id: uuid.UUID
    items: list[dict[str, Any]] = Field(description="the rubric; empty until ops set it")
    maximum: float | None
    graders_per_sitting: int
    tolerance: float
    updated_at: datetime | None
    graders: list[GraderOut]

    @classmethod
    def of(cls, plan: plans.Plan, graders: list[plans.Grader], timezone: str) -> GradingPlanOut:
        return cls(
            session_id=plan.session.id, items=plan.rubric.to_json() if plan.rubric else [],
            maximum=float(plan.rubric.maximum) if plan.rubric else None, graders_per_sitting=plan.graders_per_sitting,
            tolerance=plan.tolerance, updated_at=to_local(plan.updated_at, timezone), graders=[GraderOut.of(g, timezone) for g in graders],
        )  # fmt: skip


class AssignOut(Output):
    sittings: int = Field(description="sittings graded (both recordings verified)")
    sheets_added: int
    extra_added: int = Field(description="extra graders added where the first ones disagreed past the tolerance")
    short: list[uuid.UUID] = Field(description="sittings that got fewer graders than asked: add graders and assign again")

    @classmethod
    def of(cls, report: AssignReport) -> AssignOut:
        return cls(sittings=report.sittings, sheets_added=report.sheets_added, extra_added=report.extra_added, short=list(report.short))


SheetStatus = Literal["todo", "draft", "submitted"]


def _status(sheet: GradeSheet) -> SheetStatus:
    if sheet.submitted_at is not None:
        return "submitted"
    return "draft" if sheet.saved_at is not None else "todo"


class QueueEntryOut(Output):
    sheet_id: uuid.UUID
    code: str = Field(description="the sitting's anonymous code (A-0137)")
    session_title: str
    exam_title: str
    status: SheetStatus
    total: float | None
    submitted_at: datetime | None

    @classmethod
    def of(cls, entry: QueueEntry, timezone: str) -> QueueEntryOut:
        sheet = entry.sheet
        return cls(
            sheet_id=sheet.id, code=entry.code, session_title=entry.session.title, exam_title=entry.exam_title,
            status=_status(sheet), total=sheet.total, submitted_at=to_local(sheet.submitted_at, timezone),
        )  # fmt: skip


class QuestionOut(Output):
    position: int
    text: str
    image_url: str | None = Field(description="its image, GET with the grader's token; null when it has none")


class VideoOut(Output):
    role: str
    url: str = Field(description="a signed link to watch it, valid for recording_link_seconds")
    duration_s: float | None
    offset_s: float = Field(description="its start − the answer start, seconds: where it sits on the shared timeline")


class SheetOut(Output):
    sheet_id: uuid.UUID
    code: str
    session_title: str
    exam_title: str
    questions: list[QuestionOut]
    items: list[dict[str, Any]] = Field(description="the rubric")
    maximum: float
    videos: list[VideoOut]
    answer_seconds: float
    status: SheetStatus
    scores: dict[str, float]
    comment: str | None
    total: float | None
    saved_at: datetime | None
    submitted_at: datetime | None

    @classmethod
    def of(cls, view: SheetView, timezone: str) -> SheetOut:
        sheet, rubric = view.entry.sheet, view.plan.require_rubric()
        return cls(
            sheet_id=sheet.id, code=view.entry.code, session_title=view.entry.session.title, exam_title=view.entry.exam_title,
            questions=[
                QuestionOut(position=q.position, text=q.text, image_url=f"/api/v1/grading/sheets/{sheet.id}/questions/{q.id}/image" if q.image_key else None)
                for q in view.questions
            ],
            items=rubric.to_json(),
            maximum=float(rubric.maximum),
            videos=[VideoOut(role=v.role, url=v.link.path, duration_s=v.duration_s, offset_s=v.offset_s) for v in view.videos],
            answer_seconds=view.answer_seconds, status=_status(sheet), scores=sheet.scores, comment=sheet.comment,
            total=sheet.total, saved_at=to_local(sheet.saved_at, timezone), submitted_at=to_local(sheet.submitted_at, timezone),
        )  # fmt: skip


class ScoresIn(Input):
    scores: dict[Key, Points] = Field(max_length=20, description="points per rubric item key")
    comment: LongText | None = None


class SavedOut(Output):
    sheet_id: uuid.UUID
    status: SheetStatus
    scores: dict[str, float]
    total: float | None
    saved_at: datetime | None
    submitted_at: datetime | None

    @classmethod
    def of(cls, sheet: GradeSheet, timezone: str) -> SavedOut:
        return cls(
            sheet_id=sheet.id, status=_status(sheet), scores=sheet.scores, total=sheet.total,
            saved_at=to_local(sheet.saved_at, timezone), submitted_at=to_local(sheet.submitted_at, timezone),
        )  # fmt: skip


class ScoreOverrideIn(Input):
    score: Points
    reason: Reason


class ScoreOverrideOut(Output):
    sitting_id: uuid.UUID
    score: float
    reason: str
    set_at: datetime
