from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, StrictBool, StrictInt, field_validator

from app.config import DEFAULT_TIMEZONE
from app.models import Exam, Notice
from app.schemas import Input, Instant, Output, Patch
from app.services.timezones import to_local

_TEXT = {"min_length": 1, "max_length": 200}


class _ExamFields(Input):
    @field_validator("timezone", check_fields=False)
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown IANA timezone") from exc
        return value


class ExamCreate(_ExamFields):
    title: str = Field(**_TEXT)
    organizer: str = Field(**_TEXT)
    province: str = Field(min_length=1, max_length=32, examples=["山东"])
    identity_category: str = Field(min_length=1, max_length=32, examples=["其他"])
    timezone: str | None = Field(
        default=None, examples=[DEFAULT_TIMEZONE], description="IANA timezone; times without an offset are read in it (default: the server's DUALCAM_TIMEZONE)"
    )
    confirm_opens_at: Instant
    confirm_closes_at: Instant
    support_phone: str = Field(default="", max_length=64)
    support_qq: str = Field(default="", max_length=64)
    support_wechat: str = Field(default="", max_length=64)
    support_hours: str = Field(default="", max_length=200)
    rules_text: str = Field(default="", max_length=20000, description="诚信承诺 / conduct rules accepted on confirmation")
    self_registration: StrictBool = False
    interruption_limit: StrictInt = Field(default=1, ge=0, le=100, description="interruptions allowed while answering")
    interruption_grace_seconds: StrictInt = Field(default=120, ge=0, le=3600, description="longest allowed interruption")


class ExamUpdate(_ExamFields, Patch):
    title: str | None = Field(default=None, **_TEXT)
    organizer: str | None = Field(default=None, **_TEXT)
    province: str | None = Field(default=None, min_length=1, max_length=32)
    identity_category: str | None = Field(default=None, min_length=1, max_length=32)
    timezone: str | None = None
    confirm_opens_at: Instant | None = None
    confirm_closes_at: Instant | None = None
    support_phone: str | None = Field(default=None, max_length=64)
    support_qq: str | None = Field(default=None, max_length=64)
    support_wechat: str | None = Field(default=None, max_length=64)
    support_hours: str | None = Field(default=None, max_length=200)
    rules_text: str | None = Field(default=None, max_length=20000)
    self_registration: StrictBool | None = None
    interruption_limit: StrictInt | None = Field(default=None, ge=0, le=100)
    interruption_grace_seconds: StrictInt | None = Field(default=None, ge=0, le=3600)


class Support(Output):
    phone: str
    qq: str
    wechat: str
    hours: str


class ExamOut(Output):
    id: uuid.UUID
    title: str
    organizer: str
    province: str
    identity_category: str
    timezone: str
    confirm_opens_at: datetime
    confirm_closes_at: datetime
    support: Support
    rules_text: str
    self_registration: bool
    interruption_limit: int
    interruption_grace_seconds: int

    @classmethod
    def of(cls, exam: Exam) -> ExamOut:
        tz = exam.timezone
        return cls(
            id=exam.id,
            title=exam.title,
            organizer=exam.organizer,
            province=exam.province,
            identity_category=exam.identity_category,
            timezone=tz,
            confirm_opens_at=to_local(exam.confirm_opens_at, tz),
            confirm_closes_at=to_local(exam.confirm_closes_at, tz),
            support=Support(phone=exam.support_phone, qq=exam.support_qq, wechat=exam.support_wechat, hours=exam.support_hours),
            rules_text=exam.rules_text,
            self_registration=exam.self_registration,
            interruption_limit=exam.interruption_limit,
            interruption_grace_seconds=exam.interruption_grace_seconds,
        )


class NoticeCreate(Input):
    title: str = Field(**_TEXT)
    body: str = Field(min_length=1, max_length=20000)
    pinned: StrictBool = False


class NoticeOut(Output):
    id: uuid.UUID
    title: str
    body: str
    pinned: bool
    published_at: datetime

    @classmethod
    def of(cls, notice: Notice, timezone: str) -> NoticeOut:
        return cls(id=notice.id, title=notice.title, body=notice.body, pinned=notice.pinned, published_at=to_local(notice.published_at, timezone))
