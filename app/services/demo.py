"""`dualcam demo`: a ready-to-try exam (practice, a mock opening in 2 minutes, a formal one tomorrow)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.storage import ObjectStore
from app.models import SessionKind, StaffRole, StaffUser
from app.security import hash_password
from app.services import auth
from app.services.exam import candidates, exams, roster, sessions
from app.services.audit import Actor

DEMO_OPS = "demo-ops"
# A syntactically valid (check digit) but fictitious ID number; phone in a reserved test range.
DEMO_ID_NUMBER = "370102199001011231"
DEMO_PHONE = "13800000001"
RULES = (
    "诚信承诺：本人承诺独立完成考试，不得退出视频录制过程，不得由他人代考，不得查阅资料。\n"
    "Conduct: I take the exam alone, never leave the recording, use no help and no materials."
)


@dataclass(frozen=True, slots=True)
class DemoSeed:
    exam_id: str
    ops_username: str
    ops_password: str
    candidate_name: str
    candidate_id_number: str
    candidate_phone: str
    candidate_access_code: str
    candidate_has_id_photo: bool
    practice_session_id: str
    mock_session_id: str
    formal_session_id: str
    mock_waiting_opens_at: datetime
    formal_answer_starts_at: datetime


async def seed(
    db: AsyncSession, *, store: ObjectStore, secret_key: str, timezone: str, now: datetime, id_photo: bytes | None = None
) -> DemoSeed:
    """`id_photo`: the demo candidate's ID photo (证件照), imported as ops import one with the roster; without it the
    candidate uploads one on the phone before identity verification."""
    password = "Demo" + secrets.token_hex(6) + str(secrets.randbelow(10))  # letters and a digit, always
    staff = await db.scalar(select(StaffUser).where(StaffUser.username == DEMO_OPS))
    if staff is None:
        staff = await auth.create_staff(
            db, username=DEMO_OPS, display_name="演示考务 Demo ops", role=StaffRole.ops, password=password, now=now, actor=Actor("system", "demo")
        )
    else:  # each run prints working credentials
        staff.password_hash = hash_password(password)
    actor = Actor("ops", str(staff.id))
    tz = ZoneInfo(timezone)
    exam = await exams.create_exam(
        db,
        default_timezone=timezone,
        fields={
            "title": "dualcam 演示面试 Demo interview",
            "organizer": "演示招聘单位 Demo employer",
            "province": "山东",
            "identity_category": "其他",
            "timezone": timezone,
            "confirm_opens_at": now - timedelta(days=1),
            "confirm_closes_at": now + timedelta(days=7),
            "support_phone": "400-000-0000",
            "support_qq": "10000",
            "support_wechat": "dualcam-support",
            "support_hours": "每天 08:00–20:00 / daily 08:00–20:00",
            "rules_text": RULES,
            "self_registration": True,
        },
        now=now,
        actor=actor,
    )
    await exams.create_notice(
        db, exam=exam, title="考前须知 Before the exam", body="请准备两部手机：主机位和辅机位，并保持充电。\nPrepare two phones (main and aux) and keep them charging.", pinned=True, now=now, actor=actor
    )
    practice = await sessions.create_session(
        db, exam=exam, kind=SessionKind.practice, fields={"title": "练习 Practice", "waiting_seconds": 60, "answer_seconds": 120, "upload_seconds": 1800}, now=now, actor=actor
    )
    for text in ("请做一分钟自我介绍。Introduce yourself in one minute.", "请谈谈你为什么选择这个岗位。Why this position?"):
        await sessions.add_question(db, session=practice, text=text, now=now, actor=actor)
    mock_opens = (now + timedelta(minutes=2)).replace(microsecond=0)
    mock = await sessions.create_session(
        db,
        exam=exam,
        kind=SessionKind.mock,
        fields={
            "title": "模拟考试 Mock",
            "waiting_opens_at": mock_opens,
            "answer_starts_at": mock_opens + timedelta(minutes=5),
            "answer_ends_at": mock_opens + timedelta(minutes=10),
            "upload_deadline": mock_opens + timedelta(hours=1),
        },
        now=now,
        actor=actor,
    )
    await sessions.add_question(db, session=mock, text="模拟题：请描述一次你解决难题的经历。Mock: describe a hard problem you solved.", now=now, actor=actor)
    tomorrow = (now.astimezone(tz) + timedelta(days=1)).date()
    at = lambda h, m: datetime.combine(tomorrow, time(h, m), tz)  # noqa: E731
    formal = await sessions.create_session(
        db,
        exam=exam,
        kind=SessionKind.formal,
        fields={"title": "正式考试 Formal", "waiting_opens_at": at(8, 50), "answer_starts_at": at(9, 0), "answer_ends_at": at(9, 10), "upload_deadline": at(12, 0)},
        now=now,
        actor=actor,
    )
    await sessions.add_question(db, session=formal, text="正式题：请结合岗位谈谈你的规划。Formal: your plan for this role.", now=now, actor=actor)
    photo = ",demo-id-photo" if id_photo is not None else ""
    csv_data = f"姓名,身份证号,手机号{',照片' if photo else ''}\n演示考生,{DEMO_ID_NUMBER},{DEMO_PHONE}{photo}\n".encode()
    imported = await roster.import_roster(
        db, exam=exam, data=csv_data, photos={"demo-id-photo": id_photo} if photo else None, store=store, secret_key=secret_key,
        dry_run=False, now=now, actor=actor,
    )  # fmt: skip
    candidate = await candidates.get_candidate(db, imported.imported[0].candidate_id)
    await candidates.confirm(db, candidate=candidate, exam=exam, identity_category="其他", province="山东", accept_rules=True, now=now)
    return DemoSeed(
        exam_id=str(exam.id),
        ops_username=DEMO_OPS,
        ops_password=password,
        candidate_name="演示考生",
        candidate_id_number=DEMO_ID_NUMBER,
        candidate_phone=DEMO_PHONE,
        candidate_access_code=imported.imported[0].access_code,
        candidate_has_id_photo=id_photo is not None,
        practice_session_id=str(practice.id),
        mock_session_id=str(mock.id),
        formal_session_id=str(formal.id),
        mock_waiting_opens_at=mock_opens.astimezone(tz),
        formal_answer_starts_at=at(9, 0),
    )

