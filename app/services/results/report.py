"""One candidate's report for the file (ops only, one printable page): identity checks, both recordings' evidence,
the flags in brief, the conduct decision with its reasons, and the result with each grader's total and comment."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.flags.risk import Risk
from app.models import Candidate, Decision, FaceCheck, FacePurpose, Recording, StaffUser
from app.services.audit import Actor, record
from app.services.flags.triage import AuditPolicy, sitting_flags
from app.services.grading.plan import graded_session
from app.services.results.table import table
from app.services.review import decisions
from app.services.review.sheet import staff_named
from app.services.sitting.sittings import SittingView


@dataclass(frozen=True, slots=True)
class Report:
    view: SittingView
    candidate: Candidate
    identity: FaceCheck | None  # the latest identity check (ID photo against a live selfie)
    gate: FaceCheck | None  # the latest waiting-room check
    recordings: list[Recording]
    risk: Risk
    flag_kinds: dict[str, int]
    decision: Decision | None
    staff: dict[uuid.UUID, StaffUser]
    result: dict[str, Any] | None  # the results row (the published one when published)
    comments: dict[str, str]  # the graders' comments, by grader code
    published_version: int | None


async def _latest(db: AsyncSession, candidate_id: uuid.UUID, purpose: FacePurpose, sitting_id: uuid.UUID | None) -> FaceCheck | None:
    query = select(FaceCheck).where(FaceCheck.candidate_id == candidate_id, FaceCheck.purpose == purpose)
    if sitting_id is not None:
        query = query.where(FaceCheck.sitting_id == sitting_id)
    return await db.scalar(query.order_by(FaceCheck.at.desc()).limit(1))


async def report(db: AsyncSession, *, sitting_id: uuid.UUID, now: datetime, policy: AuditPolicy, actor: Actor) -> Report:
    """Reading it is audited: it gathers what identifies the candidate with what was decided about them."""
    found = await sitting_flags(db, sitting_id=sitting_id, now=now)
    view = found.view
    await graded_session(db, view.session.id)
    candidate = await db.get_one(Candidate, view.sitting.candidate_id)
    recordings = sorted(await db.scalars(select(Recording).where(Recording.sitting_id == sitting_id)), key=lambda r: r.role.value != "main")
    decision = (await decisions.current(db, sitting_ids=[sitting_id])).get(sitting_id)
    named = {x for x in (decision.decided_by, decision.second_by) if x is not None} if decision else set()
    results = await table(db, session_id=view.session.id, now=now, policy=policy)
    row = next((r for r in results.rows if r["sitting_id"] == str(sitting_id)), None)
    record(db, at=now, actor=actor, action="results.report.view", target_kind="sitting", target_id=sitting_id)
    return Report(
        view, candidate,
        await _latest(db, candidate.id, FacePurpose.identity, None), await _latest(db, candidate.id, FacePurpose.waiting, sitting_id),
        list(recordings), found.risk, dict(Counter(f.kind for f in found.flags)), decision, await staff_named(db, named),
        row, results.comments.get(str(sitting_id), {}), results.publication.version if results.publication else None,
    )  # fmt: skip
