"""The conduct review of a sitting: claim it, mark flags and incidents, decide (a violation needs a second staff
member), reopen (ops), and the audit of it all."""

from __future__ import annotations

import uuid

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from app import errors
from app.api.deps import DB, Now, Ops, Scope, SettingsDep, Staff, Store
from app.api import pictures
from app.models import Decision, StaffUser
from app.schemas.audit import AuditOut
from app.schemas.reviews import (
    ClaimOut,
    DecisionIn,
    DecisionOut,
    IncidentIn,
    IncidentOut,
    ReasonCodeOut,
    ReopenIn,
    ReviewSheetOut,
    SecondIn,
    VerdictIn,
    VerdictOut,
)
from app.services import audit
from app.services.review import claims, decisions, marks, reasons, sheet
from app.services.sitting import sittings

router = APIRouter(prefix="/api/v1/ops", tags=["ops: review"])

_WRITE = (errors.SittingNotFound, errors.SittingClaimed)


@router.get("/review/reason-codes", response_model=list[ReasonCodeOut])
async def reason_codes(principal: Staff) -> list[ReasonCodeOut]:
    """The reasons a violation or an incident can give, from the conduct rules, with their default consequence."""
    return [ReasonCodeOut.of(r) for r in reasons.REASON_CODES]


@router.get("/sittings/{sitting_id}/review", response_model=ReviewSheetOut, responses=errors.responses(errors.SittingNotFound))
async def review_sheet(sitting_id: uuid.UUID, principal: Staff, scope: Scope, db: DB, now: Now) -> ReviewSheetOut:
    """Everything beside the videos: candidate, question, face checks, claim, verdicts, incidents, every decision."""
    return ReviewSheetOut.of(await sheet.sheet(db, sitting_id=sitting_id, now=now, scope=scope))


@router.get(
    "/sittings/{sitting_id}/questions/{question_id}/image",
    response_class=Response,
    responses={
        **pictures.QUESTION_IMAGE_200,
        **errors.responses(errors.SittingNotFound, errors.QuestionNotFound),
    },
)
async def question_image(sitting_id: uuid.UUID, question_id: uuid.UUID, principal: Staff, scope: Scope, db: DB, now: Now, store: Store) -> Response:
    """The image of one of the review sheet's questions, under the same rule as their text (once the answer window
    has ended)."""
    question = await sheet.question_image(db, sitting_id=sitting_id, question_id=question_id, now=now, scope=scope)
    return await pictures.question_image(store, question)


@router.post("/sittings/{sitting_id}/claim", response_model=ClaimOut, responses=errors.responses(*_WRITE))
async def claim(sitting_id: uuid.UUID, principal: Staff, scope: Scope, db: DB, now: Now, settings: SettingsDep) -> ClaimOut:
    """Take the sitting for review (others see who has it), or renew one's claim; it runs out after
    `review_claim_minutes` (default 30). 409 `sitting_claimed` while another staff member holds it."""
    assert principal.staff is not None
    view, holder = await claims.claim(
        db, sitting_id=sitting_id, staff=principal.staff, now=now, ttl=settings.review_claim_timedelta, scope=scope, actor=principal.actor
    )
    return ClaimOut.of(holder, view.timezone)


@router.delete(
    "/sittings/{sitting_id}/claim", status_code=status.HTTP_204_NO_CONTENT, responses=errors.responses(errors.SittingNotFound, errors.ClaimNotHeld)
)
async def release(sitting_id: uuid.UUID, principal: Staff, scope: Scope, db: DB, now: Now) -> None:
    """Let go of one's claim (ops: of anyone's); nothing happens when nobody holds it."""
    assert principal.staff is not None
    await claims.release(db, sitting_id=sitting_id, staff=principal.staff, now=now, scope=scope, actor=principal.actor)


@router.put("/flags/{flag_id}/verdict", response_model=VerdictOut, responses=errors.responses(errors.FlagNotFound, errors.SittingClaimed))
async def set_verdict(flag_id: uuid.UUID, body: VerdictIn, principal: Staff, scope: Scope, db: DB, now: Now) -> VerdictOut:
    """Confirm or dismiss a flag, with an optional note; a later verdict replaces it (each one audited)."""
    assert principal.staff is not None
    view, _, row = await marks.set_verdict(
        db, flag_id=flag_id, verdict=body.verdict, note=body.note, staff=principal.staff, now=now, scope=scope, actor=principal.actor
    )
    return VerdictOut.of(row, {principal.staff.id: principal.staff}, view.timezone)


@router.post(
    "/sittings/{sitting_id}/incidents",
    response_model=IncidentOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(*_WRITE, errors.ReviewNotOpen, errors.IncidentOutsideWindow, errors.ReasonCodeUnknown),
)
async def add_incident(sitting_id: uuid.UUID, body: IncidentIn, principal: Staff, scope: Scope, db: DB, now: Now) -> IncidentOut:
    """Something seen at a moment of the answer window that no flag caught, with a reason code."""
    assert principal.staff is not None
    view, incident = await marks.add_incident(
        db, sitting_id=sitting_id, offset_s=body.offset_s, role=body.role, reason_code=body.reason_code, note=body.note,
        staff=principal.staff, now=now, scope=scope, actor=principal.actor,
    )  # fmt: skip
    return IncidentOut.of(incident, {principal.staff.id: principal.staff}, view.timezone)


@router.post(
    "/sittings/{sitting_id}/decisions",
    response_model=DecisionOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(
        *_WRITE, errors.ReviewNotOpen, errors.ReviewAlreadyDecided, errors.ReviewAwaitingSecond, errors.ReviewDisputed,
        errors.ReasonCodeUnknown, errors.ViolationReasonRequired,
    ),  # fmt: skip
)
async def decide(sitting_id: uuid.UUID, body: DecisionIn, principal: Staff, scope: Scope, db: DB, now: Now) -> DecisionOut:
    """Decide: clean, suspicious (needs another look), violation (reason codes; takes effect when a second staff
    member confirms it) or technical. Replaces a suspicious decision; a settled one needs an ops reopen first.
    Ends the decider's claim."""
    assert principal.staff is not None
    done = await decisions.decide(
        db, sitting_id=sitting_id, outcome=body.outcome, reason_codes=body.reason_codes, note=body.note, staff=principal.staff,
        now=now, scope=scope, actor=principal.actor,
    )  # fmt: skip
    return DecisionOut.of(done.decision, {principal.staff.id: principal.staff}, done.view.timezone)


@router.post(
    "/decisions/{decision_id}/second",
    response_model=DecisionOut,
    responses=errors.responses(errors.DecisionNotFound, errors.DecisionNotAwaitingSecond, errors.SecondSamePerson, errors.SittingClaimed),
)
async def second(decision_id: uuid.UUID, body: SecondIn, principal: Staff, scope: Scope, db: DB, now: Now) -> DecisionOut:
    """The second look at a violation, by someone other than its decider: agreeing makes it take effect,
    disagreeing sends the sitting to ops (`disputed`)."""
    assert principal.staff is not None
    done = await decisions.second(
        db, decision_id=decision_id, agrees=body.agrees, note=body.note, staff=principal.staff, now=now, scope=scope, actor=principal.actor
    )
    return DecisionOut.of(done.decision, await _staff_of(db, done.decision), done.view.timezone)


@router.post("/sittings/{sitting_id}/reopen", response_model=DecisionOut, responses=errors.responses(errors.SittingNotFound, errors.NothingToReopen))
async def reopen(sitting_id: uuid.UUID, body: ReopenIn, principal: Ops, scope: Scope, db: DB, now: Now) -> DecisionOut:
    """Set the current decision aside with a note (an appeal): it is kept as a version, and the sitting is undecided
    until someone decides again."""
    assert principal.staff is not None
    done = await decisions.reopen(db, sitting_id=sitting_id, note=body.note, staff=principal.staff, now=now, scope=scope, actor=principal.actor)
    return DecisionOut.of(done.decision, await _staff_of(db, done.decision), done.view.timezone)


@router.get("/sittings/{sitting_id}/audit", response_model=list[AuditOut], responses=errors.responses(errors.SittingNotFound))
async def sitting_audit(
    sitting_id: uuid.UUID, principal: Ops, db: DB, now: Now, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[AuditOut]:
    """Everything done to the sitting and seen of it, newest first: recordings watched (links handed out), claims,
    verdicts, incidents, decisions, reopens (each entry names who; per staff member: GET /ops/audit?actor_id=)."""
    view = await sittings.load(db, sitting_id=sitting_id, now=now)
    entries = await audit.list_entries(db, target_ids=await audit.sitting_targets(db, sitting_id), limit=limit)
    return [AuditOut.of(e, view.timezone) for e in entries]


async def _staff_of(db: DB, decision: Decision) -> dict[uuid.UUID, StaffUser]:
    return await sheet.staff_named(db, {decision.decided_by, decision.second_by, decision.reopened_by})
