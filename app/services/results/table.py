"""A session's results table: one row per candidate, derived now from the facts, or as frozen when published."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import AnalysisStatus, Candidate, ExamSession, GradeSheet, GradingCode, ResultPublication, ScoreOverride, SessionGrader
from app.services.audit import Actor
from app.services.exam import exams
from app.services.flags import jobs
from app.services.flags.triage import AuditPolicy, review_queue
from app.services.grading import plan as plans
from app.services.grading.progress import progress_of, total_of
from app.services.grading.rubric import points
from app.services.results import publication as publications
from app.services.results.outcome import Standing, result_of
from app.services.results.rules import consequences
from app.services.review import decisions
from app.services.sitting import sittings


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class Table:
    session: ExamSession
    timezone: str
    rows: list[dict[str, Any]]
    grader_codes: list[str]
    publication: ResultPublication | None  # set: the rows are the frozen ones of this version
    # Graders' comments on submitted sheets, by sitting id then grader code. Not in the rows, whose sha256 is the
    # publication's; a submitted sheet never changes, so they stand as well as the rows do.
    comments: dict[str, dict[str, str]] = field(default_factory=dict)


async def comments_of(db: AsyncSession, *, session_id: uuid.UUID) -> dict[str, dict[str, str]]:
    graders = {row.staff_id: row.code for row in await db.scalars(select(SessionGrader).where(SessionGrader.session_id == session_id))}
    found: dict[str, dict[str, str]] = defaultdict(dict)
    sheets = await db.scalars(
        select(GradeSheet).where(GradeSheet.session_id == session_id, GradeSheet.submitted_at.is_not(None), GradeSheet.comment.is_not(None))
    )
    for sheet in sheets:
        if sheet.comment and sheet.comment.strip() and sheet.grader_id in graders:
            found[str(sheet.sitting_id)][graders[sheet.grader_id]] = sheet.comment.strip()
    return {sitting: dict(sorted(by_code.items())) for sitting, by_code in found.items()}


async def live_rows(db: AsyncSession, *, session: ExamSession, now: datetime, policy: AuditPolicy) -> tuple[list[dict[str, Any]], list[str]]:
    exam = await exams.get_exam(db, session.exam_id)
    rules = consequences(exam)
    found = await sittings.session_sittings(db, session=session, now=now)
    ids = [r.sitting.id for r in found]
    current = await decisions.current(db, sitting_ids=ids)
    queued = {q.sitting.id for q in (await review_queue(db, session_id=session.id, now=now, policy=policy)).rows}
    latest = await jobs.latest_by_role(db, sitting_ids=ids)
    grading = await plans.get_plan(db, session.id)
    sheets: dict[uuid.UUID, list[GradeSheet]] = defaultdict(list)
    for sheet in await db.scalars(select(GradeSheet).where(GradeSheet.session_id == session.id)):
        sheets[sheet.sitting_id].append(sheet)
    codes = {row.sitting_id: row.code for row in await db.scalars(select(GradingCode).where(GradingCode.session_id == session.id))}
    graders = {row.staff_id: row.code for row in await db.scalars(select(SessionGrader).where(SessionGrader.session_id == session.id))}
    overrides = {row.sitting_id: row for row in await db.scalars(select(ScoreOverride).where(ScoreOverride.sitting_id.in_(ids)))} if ids else {}
    rows = []
    for r in found:
        sid = r.sitting.id
        mine = sheets.get(sid, [])
        decision = current.get(sid)
        standing = Standing(
            state=r.state,
            decision=decision,
            under_review=sid in queued and not decisions.is_settled(decision),
            analysing=any(job.status in (AnalysisStatus.pending, AnalysisStatus.running) for job in latest[sid].values()),
            grading=progress_of(grading, mine) if grading.rubric is not None and mine else None,
            override=points(overrides[sid].score) if sid in overrides else None,
        )
        result = result_of(standing, rules)
        rows.append({
            "candidate_id": str(r.candidate.id), "name": r.candidate.name, "id_number_masked": r.candidate.id_number_masked,
            "sitting_id": str(sid), "grading_code": codes.get(sid), "sitting_state": r.state.value,
            "state": result.state.value, "score": _number(result.score), "reason": result.reason,
            "graders": {graders[s.grader_id]: _number(total_of(s)) for s in sorted(mine, key=lambda s: graders[s.grader_id])},
        })  # fmt: skip
    rows += await _never_sat(db, session=session, sat={r.candidate.id for r in found}, now=now)
    rows.sort(key=lambda row: row["name"])
    return rows, sorted(set(graders.values()))


async def _never_sat(db: AsyncSession, *, session: ExamSession, sat: set[uuid.UUID], now: datetime) -> list[dict[str, Any]]:
    """Roster candidates with no sitting in the session (they never confirmed the exam): a row each all the same,
    pending until the answer starts, then disqualified like an absence."""
    started = session.answer_starts_at is not None and now >= session.answer_starts_at
    rows = []
    for candidate in await db.scalars(select(Candidate).where(Candidate.exam_id == session.exam_id)):
        if candidate.id in sat:
            continue
        rows.append({
            "candidate_id": str(candidate.id), "name": candidate.name, "id_number_masked": candidate.id_number_masked,
            "sitting_id": None, "grading_code": None, "sitting_state": None,
            "state": "disqualified" if started else "pending", "score": None, "reason": "not_confirmed", "graders": {},
        })  # fmt: skip
    return rows


async def table(db: AsyncSession, *, session_id: uuid.UUID, now: datetime, policy: AuditPolicy) -> Table:
    session = await plans.graded_session(db, session_id)
    timezone = (await exams.get_exam(db, session.exam_id)).timezone
    published = await publications.current(db, session_id=session_id)
    comments = await comments_of(db, session_id=session_id)
    if published is not None:
        codes = sorted({code for row in published.rows for code in row["graders"]})
        return Table(session, timezone, published.rows, codes, published, comments)
    rows, codes = await live_rows(db, session=session, now=now, policy=policy)
    return Table(session, timezone, rows, codes, None, comments)


async def publish(
    db: AsyncSession, *, session_id: uuid.UUID, now: datetime, policy: AuditPolicy, allow_pending: bool, actor: Actor, staff_id: uuid.UUID | None
) -> ResultPublication:
    """Freeze the session's results as they stand now. Rows still pending refuse it unless `allow_pending` (ops
    publishing the others while a re-sit is arranged): a frozen pending row stays pending in that version."""
    session = await plans.graded_session(db, session_id)
    await publications.ensure_open(db, session_id=session_id)
    rows, _ = await live_rows(db, session=session, now=now, policy=policy)
    pending = [row["candidate_id"] for row in rows if row["state"] == "pending"]
    if pending and not allow_pending:
        raise errors.ResultsPending(details={"pending": len(pending)})
    return await publications.publish(db, session_id=session_id, rows=rows, now=now, actor=actor, staff_id=staff_id)


async def timezone_of(db: AsyncSession, session_id: uuid.UUID) -> str:
    """The exam's timezone of a graded session (404 / 409 for one that is not)."""
    session = await plans.graded_session(db, session_id)
    return (await exams.get_exam(db, session.exam_id)).timezone
