"""audit: who did what to which thing, at server time; listed newest first (entries of one instant in the order they
were written, newest first), filtered by action, target and time."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from app.services import audit
from app.services.audit import Actor
from tests.conftest import T0
from tests.services.conftest import Env

pytestmark = pytest.mark.anyio


async def test_entries_list_newest_first_and_filter(env: Env) -> None:
    target = uuid.uuid4()
    async with env.tx() as db:
        audit.record(db, at=T0, actor=Actor("ops", "a"), action="exam.create", target_kind="exam", target_id=target, details={"n": 1})
        audit.record(db, at=T0, actor=Actor("ops", "a"), action="exam.update", target_kind="exam", target_id=target)
        audit.record(db, at=T0 + timedelta(minutes=1), actor=audit.SYSTEM, action="phase.announce", target_kind="session", target_id=None)
    async with env.tx() as db:
        every = await audit.list_entries(db)
        assert [e.action for e in every] == ["phase.announce", "exam.update", "exam.create"]
        assert (every[2].actor_kind, every[2].actor_id, every[2].target_id, every[2].details) == ("ops", "a", str(target), {"n": 1})
        assert (every[0].actor_kind, every[0].actor_id, every[0].target_id, every[1].details) == ("system", "scheduler", None, {})
        assert [e.action for e in await audit.list_entries(db, action="exam.create")] == ["exam.create"]
        assert [e.action for e in await audit.list_entries(db, target_ids=[str(target)])] == ["exam.update", "exam.create"]
        assert [e.action for e in await audit.list_entries(db, before=T0 + timedelta(minutes=1))] == ["exam.update", "exam.create"]
        assert [e.action for e in await audit.list_entries(db, limit=1)] == ["phase.announce"]
        assert [e.action for e in await audit.list_entries(db, actor_id="scheduler")] == ["phase.announce"]
