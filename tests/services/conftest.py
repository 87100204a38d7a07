"""Set-up for the service tests: the services called directly with a real database session (SQLite, or PostgreSQL
with DUALCAM_TEST_DATABASE_URL), rows built through the services themselves, and the fake clock moved through the
windows of one formal session (never a sleep).

The formal session's windows, Beijing time: waiting opens 08:50, answering 09:00–09:10, uploads until 12:00.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.adapters.hub import Envelope
from app.clock import FakeClock
from app.db import transaction
from app.models import AuditLog, Candidate, Device, DeviceRole, Exam, ExamSession, ProctorEvent, Question, SessionKind, Sitting
from app.services import auth
from app.services.audit import Actor
from app.services.exam import candidates, exams, sessions
from app.services.sitting import devices, sittings
from app.services.sitting.lifecycle import SittingState
from app.services.sitting.sittings import SittingView
from tests.conftest import T0
from tests.support.api import PASSWORD, id_number, phone

S = timedelta(seconds=1)
M = timedelta(minutes=1)
OPENS = T0 + 50 * M  # 08:50 Beijing
STARTS = T0 + 60 * M  # 09:00
ENDS = STARTS + 10 * M  # 09:10
DEADLINE = T0 + 4 * 60 * M  # 12:00
OPS = Actor("ops", "test")
QUESTION = "正式题：谈谈你的职业规划"

# A sitting put into each state: the facts it gets and an instant at which it has that state.
READY_AT = OPENS + M
STATES: dict[SittingState, tuple[dict[str, datetime], datetime]] = {
    SittingState.scheduled: ({}, T0),
    SittingState.waiting: ({}, OPENS),
    SittingState.ready: ({"ready_at": READY_AT}, READY_AT + M),
    SittingState.answering: ({"ready_at": READY_AT}, STARTS + M),
    SittingState.recorded: ({"ready_at": READY_AT}, ENDS + M),
    SittingState.uploaded: ({"ready_at": READY_AT, "recording_stopped_at": ENDS, "uploaded_at": ENDS + M}, ENDS + 2 * M),
    SittingState.absent: ({}, STARTS + M),
    SittingState.terminated: ({"ready_at": READY_AT, "terminated_at": STARTS + 30 * S}, STARTS + M),
    SittingState.incomplete: ({"ready_at": READY_AT}, DEADLINE),
}


class Heard:
    """A hub sink that keeps every message it is offered, in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def offer(self, envelope: Envelope) -> None:
        self.messages.append((envelope.channel, envelope.message))

    def on(self, channel: str) -> list[dict[str, Any]]:
        return [m for c, m in self.messages if c == channel]


@dataclass
class Env:
    app: Any
    clock: FakeClock
    seq: int = field(default=0)

    @property
    def settings(self) -> Any:
        return self.app.state.settings

    @property
    def timeout(self) -> timedelta:
        return timedelta(seconds=self.settings.presence_timeout_seconds)

    @property
    def ttl(self) -> timedelta:
        return timedelta(hours=self.settings.token_ttl_hours)

    def now(self) -> datetime:
        return self.clock.now()

    def tx(self) -> Any:
        """One committed transaction, with its messages published to the app's hub after the commit."""
        return transaction(self.app.state.sessionmaker, self.app.state.hub)

    @asynccontextmanager
    async def hearing(self, *channels: str) -> AsyncIterator[Heard]:
        heard = Heard()
        async with self.app.state.hub.attach(heard, *channels):
            yield heard

    # --- rows built through the services --------------------------------------------------------------------
    async def exam(self, **fields: Any) -> Exam:
        body: dict[str, Any] = {
            "title": "2026年某单位公开招聘面试",
            "organizer": "某单位",
            "province": "山东",
            "identity_category": "其他",
            "confirm_opens_at": T0 - timedelta(days=1),
            "confirm_closes_at": T0 + timedelta(days=30),
            "rules_text": "诚信承诺：不得退出视频录制过程。",
            "self_registration": True,
            **fields,
        }
        async with self.tx() as db:
            return await exams.create_exam(db, fields=body, default_timezone=self.settings.timezone, now=self.now(), actor=OPS)

    async def formal(self, exam: Exam, *texts: str, opens: datetime = OPENS, starts: datetime = STARTS, ends: datetime = ENDS, deadline: datetime = DEADLINE, kind: SessionKind = SessionKind.formal) -> ExamSession:
        fields = {"title": f"{kind.value} session", "waiting_opens_at": opens, "answer_starts_at": starts, "answer_ends_at": ends, "upload_deadline": deadline}
        return await self._session(exam, kind, fields, texts)

    async def practice(self, exam: Exam, *texts: str, waiting: int = 60, answer: int = 120, upload: int = 600) -> ExamSession:
        fields = {"title": "practice", "waiting_seconds": waiting, "answer_seconds": answer, "upload_seconds": upload}
        return await self._session(exam, SessionKind.practice, fields, texts)

    async def _session(self, exam: Exam, kind: SessionKind, fields: dict[str, Any], texts: tuple[str, ...]) -> ExamSession:
        async with self.tx() as db:
            session = await sessions.create_session(db, exam=exam, kind=kind, fields=fields, now=self.now(), actor=OPS)
            for text in texts:
                await sessions.add_question(db, session=session, text=text, now=self.now(), actor=OPS)
            return session

    async def candidate(self, exam: Exam, *, confirm: bool = True, name: str | None = None) -> Candidate:
        """A self-registered candidate (distinct ID number and phone per call), confirmed unless told not to."""
        self.seq += 1
        async with self.tx() as db:
            candidate = await candidates.register(
                db, exam=exam, name=name or f"考生{self.seq}", id_number=id_number(self.seq), phone=phone(self.seq),
                password=PASSWORD, now=self.now(), secret_key=self.settings.secret_key,
            )  # fmt: skip
            if confirm:
                await candidates.confirm(db, candidate=candidate, exam=exam, identity_category="其他", province="山东", accept_rules=True, now=self.now())
            return candidate

    async def sitting_id(self, candidate: Candidate, session: ExamSession, attempt: int = 1) -> uuid.UUID:
        async with self.tx() as db:
            found = await db.scalar(
                select(Sitting.id).where(Sitting.candidate_id == candidate.id, Sitting.session_id == session.id, Sitting.attempt == attempt)
            )
        assert found is not None
        return found

    async def view(self, sitting_id: uuid.UUID, at: datetime | None = None) -> SittingView:
        async with self.tx() as db:
            return await sittings.load(db, sitting_id=sitting_id, now=at or self.now())

    async def set_facts(self, sitting_id: uuid.UUID, **facts: Any) -> None:
        async with self.tx() as db:
            sitting = await db.get_one(Sitting, sitting_id)
            for name, value in facts.items():
                setattr(sitting, name, value)

    async def into(self, sitting_id: uuid.UUID, state: SittingState) -> datetime:
        """Give the sitting the facts of `state` and move the clock to an instant where it holds; returns it."""
        facts, moment = STATES[state]
        await self.set_facts(sitting_id, **facts)
        self.clock.set(moment)
        assert (await self.view(sitting_id)).state is state
        return moment

    async def device(self, candidate: Candidate, sitting_id: uuid.UUID, role: DeviceRole) -> tuple[Device, auth.IssuedToken]:
        async with self.tx() as db:
            view = await sittings.load(db, sitting_id=sitting_id, now=self.now())
            login = await devices.login_device(db, candidate=candidate, view=view, role=role, now=self.now(), ttl=self.ttl)
            return login.device, login.issued

    # --- reading back ---------------------------------------------------------------------------------------
    async def row(self, model: type[Any], key: Any) -> Any:
        async with self.tx() as db:
            return await db.get_one(model, key)

    async def events(self, sitting_id: uuid.UUID) -> list[ProctorEvent]:
        async with self.tx() as db:
            return list((await db.scalars(select(ProctorEvent).where(ProctorEvent.sitting_id == sitting_id).order_by(ProctorEvent.at, ProctorEvent.id))).all())

    async def audit(self, action: str) -> list[AuditLog]:
        async with self.tx() as db:
            return list((await db.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.at, AuditLog.id))).all())


@pytest.fixture
def env(app: Any, clock: FakeClock) -> Env:
    return Env(app, clock)


@dataclass
class Scene:
    """One exam with a formal session (QUESTION) and one confirmed candidate with its sitting; the clock at T0."""

    env: Env
    exam: Exam
    session: ExamSession
    candidate: Candidate
    sitting_id: uuid.UUID

    async def view(self, at: datetime | None = None) -> SittingView:
        return await self.env.view(self.sitting_id, at)

    async def load(self, db: AsyncSession, **kwargs: Any) -> SittingView:
        return await sittings.load(db, sitting_id=self.sitting_id, now=self.env.now(), **kwargs)

    async def into(self, state: SittingState) -> datetime:
        return await self.env.into(self.sitting_id, state)

    async def phones(self) -> tuple[Device, Device]:
        (main, _), (aux, _) = [await self.env.device(self.candidate, self.sitting_id, role) for role in (DeviceRole.main, DeviceRole.aux)]
        return main, aux


@pytest.fixture
async def scene(env: Env) -> Scene:
    exam = await env.exam()
    session = await env.formal(exam, QUESTION)
    candidate = await env.candidate(exam)
    return Scene(env, exam, session, candidate, await env.sitting_id(candidate, session))


async def questions_of(db: AsyncSession, session: ExamSession) -> list[Question]:
    return list((await db.scalars(select(Question).where(Question.session_id == session.id).order_by(Question.position))).all())
