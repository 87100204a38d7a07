"""Candidates of an exam: self-registration, confirmation, and looking them up."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.db import insert_or_skip
from app.models import Candidate, Exam
from app.security import (
    hash_password,
    id_number_digest,
    mask_id_number,
    normalize_id_number,
    normalize_phone,
    strong_enough,
    valid_id_number,
    valid_phone,
)
from app.services.audit import Actor, record
from app.services.exam.sessions import ensure_sittings


def rules_digest(exam: Exam) -> str:
    return hashlib.sha256(exam.rules_text.encode()).hexdigest()


async def get_candidate(db: AsyncSession, candidate_id: uuid.UUID, *, exam_id: uuid.UUID | None = None) -> Candidate:
    query = select(Candidate).where(Candidate.id == candidate_id)
    if exam_id is not None:
        query = query.where(Candidate.exam_id == exam_id)
    candidate = await db.scalar(query)
    if candidate is None:
        raise errors.CandidateNotFound()
    return candidate


async def list_candidates(db: AsyncSession, *, exam_id: uuid.UUID, offset: int = 0, limit: int = 100) -> tuple[int, list[Candidate]]:
    total = await db.scalar(select(func.count()).select_from(Candidate).where(Candidate.exam_id == exam_id))
    query = select(Candidate).where(Candidate.exam_id == exam_id).order_by(Candidate.created_at, Candidate.name).offset(offset).limit(limit)
    return total or 0, list((await db.scalars(query)).all())


async def register(
    db: AsyncSession,
    *,
    exam: Exam,
    name: str,
    id_number: str,
    phone: str,
    password: str,
    now: datetime,
    secret_key: str,
) -> Candidate:
    if not exam.self_registration:
        raise errors.SelfRegistrationClosed()
    id_number, phone = normalize_id_number(id_number), normalize_phone(phone)
    if not valid_id_number(id_number):
        raise errors.InvalidIdNumber()
    if not valid_phone(phone):
        raise errors.InvalidPhone()
    if not strong_enough(password):
        raise errors.WeakPassword()
    digest = id_number_digest(secret_key, id_number)
    taken = await db.scalar(
        select(Candidate.id).where(Candidate.exam_id == exam.id, or_(Candidate.id_number_hash == digest, Candidate.phone == phone))
    )
    if taken is not None:
        raise errors.AlreadyRegistered()
    # A double tap registers once: the insert skips a row its unique keys already hold, and the check above cannot
    # see a registration committed after it read.
    created = await db.scalar(
        insert_or_skip(db, Candidate)
        .values(
            id=uuid.uuid4(),
            exam_id=exam.id,
            name=name.strip(),
            id_number_hash=digest,
            id_number_masked=mask_id_number(id_number),
            phone=phone,
            password_hash=hash_password(password),
            created_at=now,
        )
        .returning(Candidate.id)
    )
    if created is None:
        raise errors.AlreadyRegistered()
    candidate = await get_candidate(db, created)
    record(db, at=now, actor=Actor("candidate", str(candidate.id)), action="candidate.register", target_kind="candidate", target_id=candidate.id)
    return candidate


async def confirm(
    db: AsyncSession,
    *,
    candidate: Candidate,
    exam: Exam,
    identity_category: str,
    province: str,
    accept_rules: bool,
    now: datetime,
) -> Candidate:
    """Confirm taking the exam: inside its window, for its identity category and province, accepting its rules."""
    if candidate.confirmed_at is not None:
        return candidate  # idempotent: a double tap on a slow network must not fail
    if now < exam.confirm_opens_at:
        raise errors.ConfirmationNotOpen(details={"opens_at": exam.confirm_opens_at.isoformat()})
    if now >= exam.confirm_closes_at:
        raise errors.ConfirmationClosed(details={"closed_at": exam.confirm_closes_at.isoformat()})
    if identity_category.strip() != exam.identity_category:
        raise errors.IdentityCategoryMismatch()
    if province.strip() != exam.province:
        raise errors.ProvinceMismatch()
    if not accept_rules:
        raise errors.RulesNotAccepted()
    # Conditional: of confirmations sent at once (a double tap) one confirms, the others answer what it did.
    confirmed = await db.scalar(
        update(Candidate)
        .where(Candidate.id == candidate.id, Candidate.confirmed_at.is_(None))
        .values(confirmed_at=now, confirmed_rules_sha256=rules_digest(exam))
        .returning(Candidate.id)
    )
    await db.refresh(candidate, ["confirmed_at", "confirmed_rules_sha256"])
    if confirmed is None:
        return candidate
    await ensure_sittings(db, exam_id=exam.id, now=now)
    record(db, at=now, actor=Actor("candidate", str(candidate.id)), action="candidate.confirm", target_kind="candidate", target_id=candidate.id, details={"rules_sha256": candidate.confirmed_rules_sha256})
    return candidate
