"""Ops: a session's results (derived, or frozen once published), publishing and reopening them, the export, and an
exam's conduct rules (what a violation's reason does to the result)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app import errors
from app.api.deps import DB, Now, Ops, SettingsDep
from app.schemas.results import ConductRuleOut, ConductRulesIn, PublicationOut, PublishIn, ReopenIn, ReportOut, ResultsOut, rules_out
from app.services.exam.exams import get_exam
from app.services.flags.triage import AuditPolicy
from app.services.results import export, publication, report, rules, table

router = APIRouter(prefix="/api/v1/ops", tags=["ops: results"])

_SESSION = (errors.SessionNotFound, errors.SessionNotGraded)
MEDIA = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/sessions/{session_id}/results", response_model=ResultsOut, responses=errors.responses(*_SESSION))
async def results(session_id: uuid.UUID, principal: Ops, db: DB, now: Now, settings: SettingsDep) -> ResultsOut:
    """One row per candidate: result state, score, each grader's total and the reason."""
    return ResultsOut.of(await table.table(db, session_id=session_id, now=now, policy=AuditPolicy.of(settings)))


@router.post(
    "/sessions/{session_id}/results/publish",
    response_model=PublicationOut,
    responses=errors.responses(*_SESSION, errors.ResultsPublished, errors.ResultsPending),
)
async def publish(session_id: uuid.UUID, body: PublishIn, principal: Ops, db: DB, now: Now, settings: SettingsDep) -> PublicationOut:
    """Freeze the results as they stand (their sha256 is stored and shown); audited."""
    assert principal.staff is not None
    done = await table.publish(
        db, session_id=session_id, now=now, policy=AuditPolicy.of(settings), allow_pending=body.allow_pending,
        actor=principal.actor, staff_id=principal.staff.id,
    )  # fmt: skip
    return PublicationOut.of(done, await table.timezone_of(db, session_id))


@router.post(
    "/sessions/{session_id}/results/reopen", response_model=PublicationOut, responses=errors.responses(*_SESSION, errors.ResultsNotPublished)
)
async def reopen(session_id: uuid.UUID, body: ReopenIn, principal: Ops, db: DB, now: Now) -> PublicationOut:
    """Reopen published results, with the reason: they may change again, and publishing makes the next version."""
    assert principal.staff is not None
    timezone = await table.timezone_of(db, session_id)
    done = await publication.reopen(db, session_id=session_id, reason=body.reason, now=now, actor=principal.actor, staff_id=principal.staff.id)
    return PublicationOut.of(done, timezone)


@router.get("/sessions/{session_id}/results/versions", response_model=list[PublicationOut], responses=errors.responses(*_SESSION))
async def versions(session_id: uuid.UUID, principal: Ops, db: DB) -> list[PublicationOut]:
    """Every published version, newest first, with its reopen."""
    timezone = await table.timezone_of(db, session_id)
    return [PublicationOut.of(p, timezone) for p in await publication.history(db, session_id=session_id)]


@router.get(
    "/sessions/{session_id}/results/export",
    response_class=Response,
    responses={200: {"content": {MEDIA["csv"]: {}, MEDIA["xlsx"]: {}}, "description": "The results file"}, **errors.responses(*_SESSION)},
)
async def export_results(
    session_id: uuid.UUID, principal: Ops, db: DB, now: Now, settings: SettingsDep,
    format: Annotated[Literal["csv", "xlsx"], Query(description="csv (UTF-8 with BOM) or xlsx")] = "xlsx",
) -> Response:  # fmt: skip
    """The results as a spreadsheet (the published version when there is one); formula-like cells are escaped."""
    found = await table.table(db, session_id=session_id, now=now, policy=AuditPolicy.of(settings))
    content = export.to_csv(found) if format == "csv" else export.to_xlsx(found, now)
    version = f"-v{found.publication.version}" if found.publication else "-draft"
    name = f"results-{session_id}{version}.{format}"
    return Response(content, media_type=MEDIA[format], headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private, no-store"})


@router.get("/sittings/{sitting_id}/report", response_model=ReportOut, responses=errors.responses(errors.SittingNotFound, errors.SessionNotGraded))
async def sitting_report(sitting_id: uuid.UUID, principal: Ops, db: DB, now: Now, settings: SettingsDep) -> ReportOut:
    """One candidate's report: identity checks, both recordings' sha256 and duration, flags in brief, the decision
    with its reasons, and the result; viewing it is audited."""
    found = await report.report(db, sitting_id=sitting_id, now=now, policy=AuditPolicy.of(settings), actor=principal.actor)
    return ReportOut.of(found)


@router.get("/exams/{exam_id}/conduct-rules", response_model=list[ConductRuleOut], responses=errors.responses(errors.ExamNotFound))
async def conduct_rules(exam_id: uuid.UUID, principal: Ops, db: DB) -> list[ConductRuleOut]:
    """Each violation reason with what it does to the result in this exam, and the seed's default."""
    return rules_out(rules.consequences(await get_exam(db, exam_id)))


@router.put(
    "/exams/{exam_id}/conduct-rules",
    response_model=list[ConductRuleOut],
    responses=errors.responses(errors.ExamNotFound, errors.ReasonCodeUnknown, errors.ConsequenceUnknown),
)
async def set_conduct_rules(exam_id: uuid.UUID, body: ConductRulesIn, principal: Ops, db: DB, now: Now) -> list[ConductRuleOut]:
    """Set where this exam departs from the seed's consequences (codes left out keep the default); audited."""
    return rules_out(await rules.set_rules(db, exam_id=exam_id, rules=body.rules, now=now, actor=principal.actor))
