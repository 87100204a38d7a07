"""Log-in for staff and candidates, log-out, self-registration, password change."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, status

from app import errors
from app.api.deps import DB, AnyUser, CandidateUser, Client, Now, Policy, SettingsDep, client_quota
from app.models import Role
from app.schemas.auth import CandidateLogin, PasswordChange, StaffLogin, TokenOut
from app.schemas.candidates import Registration
from app.services import auth
from app.services.exam import candidates, exams

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/staff/login", response_model=TokenOut, responses=errors.responses(errors.LoginFailed, errors.TooManyLoginAttempts))
async def staff_login(body: StaffLogin, db: DB, now: Now, policy: Policy, client: Client, settings: SettingsDep) -> TokenOut:
    """Ops or reviewer log-in with username and password."""
    issued = await auth.staff_login(
        db, username=body.username, password=body.password, client=client, now=now, policy=policy, secret_key=settings.secret_key
    )
    return TokenOut(token=issued.token, role=issued.role, expires_at=issued.expires_at)


@router.post(
    "/auth/candidate/login",
    response_model=TokenOut,
    responses=errors.responses(errors.LoginFailed, errors.TooManyLoginAttempts, errors.ExamChoiceRequired),
)
async def candidate_login(body: CandidateLogin, db: DB, now: Now, policy: Policy, client: Client, settings: SettingsDep) -> TokenOut:
    """Candidate log-in by ID number or phone, with a password or the access code ops issued."""
    issued = await auth.candidate_login(
        db, identifier=body.identifier, secret=body.secret, exam_id=body.exam_id, client=client, now=now, policy=policy,
        secret_key=settings.secret_key,
    )  # fmt: skip
    return TokenOut(token=issued.token, role=issued.role, expires_at=issued.expires_at)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: AnyUser, db: DB, now: Now) -> None:
    """Revoke the token this request carries."""
    await auth.revoke(db, token_id=principal.token_id, now=now)


@router.post(
    "/exams/{exam_id}/registrations",
    response_model=TokenOut,
    status_code=status.HTTP_201_CREATED,
    # Every attempt counts, not only the accounts made: `already_registered` would otherwise test the roster freely.
    dependencies=[Depends(client_quota("registrations"))],
    responses=errors.responses(
        errors.ExamNotFound, errors.SelfRegistrationClosed, errors.AlreadyRegistered, errors.InvalidIdNumber, errors.InvalidPhone,
        errors.WeakPassword, errors.ClientRateLimited,
    ),  # fmt: skip
)
async def register(exam_id: uuid.UUID, body: Registration, db: DB, now: Now, policy: Policy, settings: SettingsDep) -> TokenOut:
    """Self-registration, where the exam allows it; answers with a candidate token."""
    exam = await exams.get_exam(db, exam_id)
    candidate = await candidates.register(
        db, exam=exam, name=body.name, id_number=body.id_number, phone=body.phone, password=body.password, now=now, secret_key=settings.secret_key
    )
    issued = await auth.issue_token(db, role=Role.candidate, now=now, ttl=policy.token_ttl, candidate_id=candidate.id)
    return TokenOut(token=issued.token, role=issued.role, expires_at=issued.expires_at)


@router.put(
    "/candidate/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors.responses(errors.LoginFailed, errors.WeakPassword),
)
async def set_password(body: PasswordChange, principal: CandidateUser, db: DB, now: Now, settings: SettingsDep) -> None:
    """Set the candidate's own password (replaces the access code)."""
    assert principal.candidate is not None
    await auth.set_candidate_password(
        db, candidate=principal.candidate, current=body.current, new=body.new, secret_key=settings.secret_key, now=now, token_id=principal.token_id
    )
