"""Flags for ops and reviewers: a sitting's flags of both phones on one timeline with its risk, a session's review
queue, and (ops) running a sitting's analysis again."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, status

from app import errors
from app.api.deps import DB, Now, Ops, Scope, SettingsDep, Staff
from app.schemas.flags import AnalysisOut, ReanalysisOut, ReviewQueueOut, SittingFlagsOut
from app.services.flags import jobs, triage
from app.services.flags.runner import Runner
from app.services.sitting.lifecycle import SittingState

router = APIRouter(prefix="/api/v1/ops", tags=["ops: flags"])


def _runner(request: Request) -> Runner:
    return request.app.state.flags


RunnerDep = Annotated[Runner, Depends(_runner)]


@router.get("/sittings/{sitting_id}/flags", response_model=SittingFlagsOut, responses=errors.responses(errors.SittingNotFound))
async def sitting_flags(sitting_id: uuid.UUID, principal: Staff, scope: Scope, db: DB, now: Now) -> SittingFlagsOut:
    """The current flags of both phones on one timeline (by server time; superseded ones hidden), the sitting's risk
    0–100 with its reasons, and each phone's analysis job (status, progress)."""
    return SittingFlagsOut.of(await triage.sitting_flags(db, sitting_id=sitting_id, now=now, scope=scope))


@router.get("/sessions/{session_id}/review-queue", response_model=ReviewQueueOut, responses=errors.responses(errors.SessionNotFound))
async def review_queue(
    session_id: uuid.UUID,
    principal: Staff,
    scope: Scope,
    db: DB,
    now: Now,
    settings: SettingsDep,
    state: SittingState | None = None,
    kind: Annotated[str | None, Query(max_length=32, description="only sittings with a current flag of this kind")] = None,
    reviewed: Annotated[bool | None, Query(description="only sittings whose review is (true) or is not (false) settled")] = None,
    mine: Annotated[bool, Query(description="only the sittings I have claimed")] = False,
) -> ReviewQueueOut:
    """The sittings of a session that answered, highest risk first: those at or above `flags_review_min_risk`, and a
    random audit sample of the others (`audit_sample: true`; the same draw on every read)."""
    queue = await triage.review_queue(
        db, session_id=session_id, now=now, policy=triage.AuditPolicy.of(settings), state=state, kind=kind, is_reviewed=reviewed,
        claimed_by=principal.staff.id if mine and principal.staff else None, scope=scope,
    )
    return ReviewQueueOut.of(queue)


@router.post(
    "/sittings/{sitting_id}/flags/reanalyze",
    response_model=ReanalysisOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=errors.responses(errors.SittingNotFound),
)
async def reanalyze(sitting_id: uuid.UUID, principal: Ops, db: DB, now: Now, runner: RunnerDep, background: BackgroundTasks) -> ReanalysisOut:
    """Analyse the sitting's recordings again (their jobs back to pending; a running one is left to finish) and
    derive its event flags again; audited. The same bytes and analyzer give the same flags, updated in place."""
    done = await jobs.reanalyze(
        db, sitting_id=sitting_id, analyzer_version=runner.analyzer_version, now=now, short_by=runner.policy.short_by, actor=principal.actor
    )
    background.add_task(runner.wake)  # after the commit: woken earlier, the runner would not see the jobs yet
    return ReanalysisOut(sitting_id=sitting_id, analysis=[AnalysisOut.of(role, job, done.timezone) for role, job in done.jobs])
