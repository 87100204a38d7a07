"""Log-in, bearer tokens, and the principal behind a request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.db import publish_after_commit
from app.models import AuthToken, Candidate, Device, LoginAttempt, Role, StaffRole, StaffUser
from app.security import (
    access_code_matches,
    client_digest,
    hash_password,
    id_number_digest,
    login_key,
    new_token,
    normalize_id_number,
    normalize_phone,
    rehashed,
    strong_enough,
    token_digest,
    verify_password,
)
from app.services.audit import Actor, record

_TOKEN_PREFIX = {Role.ops: "dco", Role.reviewer: "dcr", Role.grader: "dcg", Role.candidate: "dcc", Role.device: "dcd"}


@dataclass(frozen=True, slots=True)
class Principal:
    role: Role
    token_id: uuid.UUID
    staff: StaffUser | None = None
    candidate: Candidate | None = None
    device: Device | None = None

    @property
    def actor(self) -> Actor:
        subject = self.staff or self.device or self.candidate
        return Actor(self.role.value, str(subject.id) if subject else None)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    role: Role
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int  # per account, from one client
    client_max_failures: int  # per client, over every account
    window: timedelta
    token_ttl: timedelta


async def issue_token(
    db: AsyncSession,
    *,
    role: Role,
    now: datetime,
    ttl: timedelta,
    staff_id: uuid.UUID | None = None,
    candidate_id: uuid.UUID | None = None,
    device_id: uuid.UUID | None = None,
) -> IssuedToken:
    token = new_token(_TOKEN_PREFIX[role])
    expires_at = now + ttl
    db.add(
        AuthToken(
            token_hash=token_digest(token),
            role=role,
            staff_id=staff_id,
            candidate_id=candidate_id,
            device_id=device_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    await db.flush()
    return IssuedToken(token, role, expires_at)


async def authenticate(db: AsyncSession, *, token: str, now: datetime) -> Principal | None:
    """The principal behind a bearer token, in one query (the token with its staff user, candidate or device and
    the device's candidate): every REST request and every socket connect pays it."""
    row = (
        await db.execute(
            select(AuthToken, StaffUser, Candidate, Device)
            .outerjoin(StaffUser, StaffUser.id == AuthToken.staff_id)
            .outerjoin(Device, Device.id == AuthToken.device_id)
            .outerjoin(Candidate, Candidate.id == case((AuthToken.role == Role.device, Device.candidate_id), else_=AuthToken.candidate_id))
            .where(AuthToken.token_hash == token_digest(token))
        )
    ).one_or_none()
    if row is None:
        return None
    auth, staff, candidate, device = row
    if auth.revoked_at is not None or auth.expires_at <= now:
        return None
    if auth.role in (Role.ops, Role.reviewer, Role.grader):
        if staff is None or staff.disabled_at is not None or staff.role.value != auth.role.value:
            return None
        return Principal(auth.role, auth.id, staff=staff)
    if auth.role is Role.candidate:
        return Principal(auth.role, auth.id, candidate=candidate) if candidate else None
    if device is None or device.superseded_at is not None:
        return None
    return Principal(auth.role, auth.id, candidate=candidate, device=device) if candidate else None


async def authenticate_device(db: AsyncSession, *, token: str | None, now: datetime) -> Device:
    """The phone behind a token, for what only phones do (their realtime channel, their uploads)."""
    if not token:
        raise errors.NotAuthenticated()
    principal = await authenticate(db, token=token, now=now)
    if principal is None:
        raise errors.InvalidToken()
    if principal.role is not Role.device or principal.device is None:
        raise errors.Forbidden()
    return principal.device


def token_channel(token_id: object) -> str:
    """Sockets opened with one token: told when it is revoked, so they close at once rather than at their next check."""
    return f"token:{token_id}"


async def revoke(db: AsyncSession, *, token_id: uuid.UUID, now: datetime) -> None:
    row = await db.get(AuthToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
        publish_after_commit(db, token_channel(token_id), {"type": "revoked"})


async def revoke_device_tokens(db: AsyncSession, *, device_id: uuid.UUID, now: datetime) -> None:
    rows = await db.scalars(select(AuthToken).where(AuthToken.device_id == device_id, AuthToken.revoked_at.is_(None)))
    for row in rows:
        row.revoked_at = now


async def revoke_candidate_tokens(db: AsyncSession, *, candidate_id: uuid.UUID, now: datetime, keep: uuid.UUID | None = None) -> int:
    """The candidate's own log-ins (not its phones': a credential change must not stop a recording in progress)."""
    rows = await db.scalars(
        select(AuthToken).where(AuthToken.candidate_id == candidate_id, AuthToken.role == Role.candidate, AuthToken.revoked_at.is_(None))
    )
    revoked = 0
    for row in rows:
        if row.id != keep:
            row.revoked_at, revoked = now, revoked + 1
    return revoked


async def _refuse_if_over(db: AsyncSession, *where: ColumnElement[bool], limit: int, now: datetime, policy: LoginPolicy) -> None:
    """429 while `limit` or more failures matching `where` lie in the window; Retry-After is when enough have left."""
    since = now - policy.window
    window = (LoginAttempt.at > since, *where)
    failures = await db.scalar(select(func.count()).select_from(LoginAttempt).where(*window)) or 0
    if failures < limit:
        return
    # Under the limit again once failures - limit + 1 of them have left the window.
    freed_by = await db.scalar(select(LoginAttempt.at).where(*window).order_by(LoginAttempt.at).offset(failures - limit).limit(1))
    retry = int(((freed_by or now) + policy.window - now).total_seconds()) + 1
    raise errors.TooManyLoginAttempts(headers={"Retry-After": str(max(retry, 1))})


async def _check_client(db: AsyncSession, *, client: str, now: datetime, policy: LoginPolicy) -> None:
    await _refuse_if_over(db, LoginAttempt.client_hash == client, limit=policy.client_max_failures, now=now, policy=policy)


async def _check_accounts(db: AsyncSession, *, keys: list[str], client: str, now: datetime, policy: LoginPolicy) -> None:
    # Per account *and client*: a stranger's failures lock the stranger out, not the owner on their own phone.
    for key in keys:
        where = (LoginAttempt.key_hash == key, LoginAttempt.client_hash == client)
        await _refuse_if_over(db, *where, limit=policy.max_failures, now=now, policy=policy)


def _note_failure(db: AsyncSession, *, keys: list[str], client: str, now: datetime) -> None:
    # One row per account named (a person on several exams is several accounts): the client's own count may count
    # such a miss more than once, which only errs on the strict side.
    db.add_all(LoginAttempt(key_hash=key, client_hash=client, at=now) for key in keys)


async def _clear_failures(db: AsyncSession, *, keys: list[str], client: str) -> None:
    # Only this client's failures on these accounts; the client's count over all accounts stays, or logging in to
    # one's own account between guesses would reset it.
    await db.execute(delete(LoginAttempt).where(LoginAttempt.key_hash.in_(keys), LoginAttempt.client_hash == client))


async def staff_login(
    db: AsyncSession, *, username: str, password: str, client: str, now: datetime, policy: LoginPolicy, secret_key: str
) -> IssuedToken:
    """Log in by username and password. `client` is the caller's address bucket (app.security.client_bucket)."""
    client = client_digest(secret_key, client)
    await _check_client(db, client=client, now=now, policy=policy)
    # Usernames are unique and never change: the name is the account, known or not.
    keys = [login_key(secret_key, f"staff:{username}")]
    await _check_accounts(db, keys=keys, client=client, now=now, policy=policy)
    staff = await db.scalar(select(StaffUser).where(StaffUser.username == username))
    if not verify_password(password, staff.password_hash if staff else None) or staff is None or staff.disabled_at:
        _note_failure(db, keys=keys, client=client, now=now)
        raise errors.LoginFailed()
    await _clear_failures(db, keys=keys, client=client)
    if (upgraded := rehashed(password, staff.password_hash)) is not None:
        staff.password_hash = upgraded
    role = Role(staff.role.value)
    record(db, at=now, actor=Actor(role.value, str(staff.id)), action="auth.login", target_kind="staff", target_id=staff.id)
    return await issue_token(db, role=role, now=now, ttl=policy.token_ttl, staff_id=staff.id)


async def candidate_login(
    db: AsyncSession,
    *,
    identifier: str,
    secret: str,
    exam_id: uuid.UUID | None,
    client: str,
    now: datetime,
    policy: LoginPolicy,
    secret_key: str,
) -> IssuedToken:
    """Log in by ID number or phone, with the candidate's password or, until one is set, the ops-issued access code.
    `client` is the caller's address bucket (app.security.client_bucket)."""
    client = client_digest(secret_key, client)
    await _check_client(db, client=client, now=now, policy=policy)
    normalized = normalize_phone(normalize_id_number(identifier))
    query = select(Candidate).where(
        or_(
            Candidate.id_number_hash == id_number_digest(secret_key, normalize_id_number(identifier)),
            Candidate.phone == normalize_phone(identifier),
        )
    )
    if exam_id is not None:
        query = query.where(Candidate.exam_id == exam_id)
    found = list((await db.scalars(query)).all())
    # Keyed on the accounts the identifier names, so the phone and the ID number of one candidate share one count,
    # and a rewritten identifier ("139-0000-0001", "+86 …") or another exam_id gets no fresh allowance. An unknown
    # identifier is keyed on its normalized text and locks the same way: the lock tells no account apart.
    keys = [login_key(secret_key, f"candidate:{c.id}") for c in found] or [login_key(secret_key, f"identifier:{normalized}")]
    await _check_accounts(db, keys=keys, client=client, now=now, policy=policy)
    matches = [c for c in found if secret_matches(c, secret, secret_key)]
    if not any(c.password_hash is not None for c in found):
        # Access codes are an HMAC, checked in microseconds: without one argon2 run here, a fast answer would say
        # "this identifier exists and has no password yet". Every answer costs one verification at least.
        verify_password(secret, None)
    if not matches:
        _note_failure(db, keys=keys, client=client, now=now)
        raise errors.LoginFailed()
    if len(matches) > 1:
        raise errors.ExamChoiceRequired(details={"exam_ids": sorted(str(c.exam_id) for c in matches)})
    candidate = matches[0]
    await _clear_failures(db, keys=keys, client=client)
    if candidate.password_hash is not None and (upgraded := rehashed(secret, candidate.password_hash)) is not None:
        candidate.password_hash = upgraded
    record(db, at=now, actor=Actor("candidate", str(candidate.id)), action="auth.login", target_kind="candidate", target_id=candidate.id)
    return await issue_token(db, role=Role.candidate, now=now, ttl=policy.token_ttl, candidate_id=candidate.id)


def secret_matches(candidate: Candidate, secret: str, secret_key: str) -> bool:
    if candidate.password_hash is not None:
        return verify_password(secret, candidate.password_hash)
    return access_code_matches(secret_key, secret, candidate.access_code_hash)


async def set_candidate_password(
    db: AsyncSession, *, candidate: Candidate, current: str, new: str, secret_key: str, now: datetime, token_id: uuid.UUID
) -> None:
    """The candidate's other log-ins end (someone else may have had the old credential); this one and the phones stay."""
    if not secret_matches(candidate, current, secret_key):
        raise errors.LoginFailed()
    if not strong_enough(new):
        raise errors.WeakPassword()
    candidate.password_hash = hash_password(new)
    candidate.access_code_hash = None  # the code was the first credential; the password replaces it
    await revoke_candidate_tokens(db, candidate_id=candidate.id, now=now, keep=token_id)
    record(db, at=now, actor=Actor("candidate", str(candidate.id)), action="candidate.password.set", target_kind="candidate", target_id=candidate.id)


async def create_staff(
    db: AsyncSession, *, username: str, display_name: str, role: StaffRole, password: str, now: datetime, actor: Actor
) -> StaffUser:
    if not strong_enough(password):
        raise errors.WeakPassword()
    if await db.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
        raise errors.UsernameTaken()
    staff = StaffUser(
        username=username, display_name=display_name, role=role, password_hash=hash_password(password), created_at=now
    )
    db.add(staff)
    await db.flush()
    record(db, at=now, actor=actor, action="staff.create", target_kind="staff", target_id=staff.id, details={"username": username, "role": role.value})
    return staff


async def list_staff(db: AsyncSession) -> list[StaffUser]:
    return list((await db.scalars(select(StaffUser).order_by(StaffUser.username))).all())
