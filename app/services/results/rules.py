"""An exam's conduct rules: what a confirmed violation's reason does to the result (`zero`: 面试成绩按零分处理,
`disqualify`: 取消应聘资格). The seed's defaults are in app/services/review/reasons.py; an exam may depart from them."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import Exam
from app.services.audit import Actor, record
from app.services.exam.exams import get_exam
from app.services.review.reasons import BY_CODE, REASON_CODES

CONSEQUENCES = ("zero", "disqualify")


def consequences(exam: Exam) -> dict[str, str]:
    """Every reason code with its consequence for this exam."""
    own = exam.conduct_rules or {}
    return {reason.code: own.get(reason.code, reason.consequence) for reason in REASON_CODES}


async def set_rules(db: AsyncSession, *, exam_id: uuid.UUID, rules: Mapping[str, str], now: datetime, actor: Actor) -> dict[str, str]:
    """Replace the exam's departures from the defaults; a code set to its default is not stored as a departure."""
    exam = await get_exam(db, exam_id)
    own: dict[str, str] = {}
    for code, consequence in rules.items():
        if code not in BY_CODE:
            raise errors.ReasonCodeUnknown(details={"reason_code": code, "known": list(BY_CODE)})
        if consequence not in CONSEQUENCES:
            raise errors.ConsequenceUnknown(details={"reason_code": code, "known": list(CONSEQUENCES)})
        if consequence != BY_CODE[code].consequence:
            own[code] = consequence
    exam.conduct_rules = own
    exam.updated_at = now
    record(db, at=now, actor=actor, action="results.rules.set", target_kind="exam", target_id=exam_id, details={"departures": own})
    return consequences(exam)
