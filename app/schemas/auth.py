from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from app.models import Role, StaffRole
from app.schemas import Input, Output


class StaffLogin(Input):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class CandidateLogin(Input):
    identifier: str = Field(min_length=1, max_length=32, description="身份证号或手机号 / ID number or phone")
    secret: str = Field(min_length=1, max_length=200, description="密码或考务下发的登录码 / password or the access code from ops")
    exam_id: uuid.UUID | None = Field(default=None, description="Needed only when the account is on several exams")


class TokenOut(Output):
    token: str
    role: Role
    expires_at: datetime


class PasswordChange(Input):
    current: str = Field(min_length=1, max_length=200, description="当前密码或登录码 / current password or access code")
    new: str = Field(min_length=8, max_length=128)


class StaffCreate(Input):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    display_name: str = Field(min_length=1, max_length=100)
    role: StaffRole
    password: str = Field(min_length=8, max_length=128)


class StaffOut(Output):
    id: uuid.UUID
    username: str
    display_name: str
    role: StaffRole
    created_at: datetime


class StaffAssignmentOut(Output):
    """An exam assigned to a staff member (not ops: they read every exam)."""

    exam_id: uuid.UUID
    staff: StaffOut
    assigned_at: datetime
    assigned_by: uuid.UUID | None = Field(description="the ops account that assigned it; null when it came from the CLI")
