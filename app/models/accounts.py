"""Staff accounts, bearer tokens and log-in attempts."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, IdMixin


class Role(str, enum.Enum):
    ops = "ops"
    reviewer = "reviewer"
    grader = "grader"
    candidate = "candidate"
    device = "device"


class StaffRole(str, enum.Enum):
    ops = "ops"
    reviewer = "reviewer"
    grader = "grader"  # scores the sessions ops give it, blind: never an exam's roster, flags or reviews


class StaffUser(IdMixin, Base):
    __tablename__ = "staff_users"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[StaffRole] = mapped_column(Enum(StaffRole, native_enum=False, length=16))
    password_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class StaffExam(Base):
    """An exam assigned to a staff member. Ops read every exam; any other staff role reads only its assigned exams
    (app/services/scope.py), so a reviewer is given exams one at a time."""

    __tablename__ = "staff_exams"

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    exam_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("exams.id", ondelete="CASCADE"), primary_key=True, index=True)
    assigned_at: Mapped[datetime]
    # The ops account that assigned it; None when it came from the CLI (the audit log names the actor either way).
    assigned_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))


class AuthToken(IdMixin, Base):
    """An opaque bearer token; only its sha256 is stored, so a database leak leaks no credential."""

    __tablename__ = "auth_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    staff_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    candidate_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class LoginAttempt(IdMixin, Base):
    """A failed log-in: which account (or unknown identifier) from which client, for limits that hold across
    processes. Both are keyed hashes (app.security.login_key, client_digest): no identifier, no address."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        # The two counts: one account from one client, and one client over every account.
        Index("ix_login_attempts_key_client_at", "key_hash", "client_hash", "at"),
        Index("ix_login_attempts_client_at", "client_hash", "at"),
    )

    key_hash: Mapped[str] = mapped_column(String(64))
    client_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
