"""exam/exams: an exam takes the server's zone when it names none; times without an offset are read in the exam's
zone; the confirmation window must open before it closes; notices list pinned first, newest first."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from app import errors
from app.models import Exam
from app.services.exam import exams
from tests.conftest import T0
from tests.services.conftest import OPS, Env

pytestmark = pytest.mark.anyio

NAIVE_OPENS = datetime(2026, 6, 1, 8, 0)  # no offset
NAIVE_CLOSES = datetime(2026, 6, 30, 18, 0)


def fields(**overrides: Any) -> dict[str, Any]:
    return {
        "title": "面试", "organizer": "某单位", "province": "山东", "identity_category": "其他",
        "confirm_opens_at": NAIVE_OPENS, "confirm_closes_at": NAIVE_CLOSES, **overrides,
    }  # fmt: skip


async def create(env: Env, default_timezone: str = "Asia/Shanghai", **overrides: Any) -> Exam:
    async with env.tx() as db:
        return await exams.create_exam(db, fields=fields(**overrides), default_timezone=default_timezone, now=env.now(), actor=OPS)


ZONES = [
    # (label, the exam's timezone field, the server's default, zone used, 08:00 local in UTC)
    ("none given: the default", {}, "Asia/Shanghai", "Asia/Shanghai", datetime(2026, 6, 1, 0, 0, tzinfo=UTC)),
    ("null given: the default", {"timezone": None}, "Asia/Shanghai", "Asia/Shanghai", datetime(2026, 6, 1, 0, 0, tzinfo=UTC)),
    ("another server default", {}, "Asia/Urumqi", "Asia/Urumqi", datetime(2026, 6, 1, 2, 0, tzinfo=UTC)),
    ("named: its own zone", {"timezone": "America/New_York"}, "Asia/Shanghai", "America/New_York", datetime(2026, 6, 1, 12, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize(("label", "given", "default", "zone", "opens"), ZONES, ids=[z[0] for z in ZONES])
async def test_create_exam_reads_times_without_offset_in_its_zone(env: Env, label: str, given: dict[str, Any], default: str, zone: str, opens: datetime) -> None:
    exam = await create(env, default, **given)
    assert exam.timezone == zone
    assert exam.confirm_opens_at == opens
    stored = await env.row(Exam, exam.id)
    assert (stored.timezone, stored.confirm_opens_at) == (zone, opens)


async def test_times_with_an_offset_keep_their_instant(env: Env) -> None:
    opens = datetime(2026, 6, 1, 8, 0, tzinfo=timezone(timedelta(hours=-4)))
    exam = await create(env, timezone="Asia/Shanghai", confirm_opens_at=opens)
    assert exam.confirm_opens_at == datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("closes", [NAIVE_OPENS, NAIVE_OPENS - timedelta(seconds=1)], ids=["equal", "before"])
async def test_the_confirmation_window_must_open_before_it_closes(env: Env, closes: datetime) -> None:
    with pytest.raises(errors.ConfirmWindowOrder):
        await create(env, confirm_closes_at=closes)
    async with env.tx() as db:
        assert await exams.list_exams(db) == []


async def test_create_exam_is_audited(env: Env) -> None:
    exam = await create(env)
    (entry,) = await env.audit("exam.create")
    assert (entry.target_id, entry.actor_kind, entry.details, entry.at) == (str(exam.id), "ops", {"title": "面试"}, T0)


async def test_update_reads_new_times_in_the_exams_zone(env: Env) -> None:
    exam = await create(env, timezone="Asia/Shanghai")
    env.clock.advance(hours=1)
    async with env.tx() as db:
        exam = await exams.get_exam(db, exam.id)
        await exams.update_exam(db, exam=exam, fields={"confirm_closes_at": datetime(2026, 7, 1, 8, 0)}, now=env.now(), actor=OPS)
    stored = await env.row(Exam, exam.id)
    assert (stored.confirm_closes_at, stored.updated_at) == (datetime(2026, 7, 1, 0, 0, tzinfo=UTC), env.now())
    (entry,) = await env.audit("exam.update")
    assert entry.details == {"fields": ["confirm_closes_at"]}


async def test_update_with_a_new_zone_reads_times_given_with_it_in_that_zone(env: Env) -> None:
    exam = await create(env, timezone="Asia/Shanghai")
    async with env.tx() as db:
        exam = await exams.get_exam(db, exam.id)
        await exams.update_exam(db, exam=exam, fields={"timezone": "Europe/London", "confirm_opens_at": datetime(2026, 6, 1, 8, 0)}, now=env.now(), actor=OPS)
    stored = await env.row(Exam, exam.id)
    assert (stored.timezone, stored.confirm_opens_at) == ("Europe/London", datetime(2026, 6, 1, 7, 0, tzinfo=UTC))
    assert stored.confirm_closes_at == datetime(2026, 6, 30, 10, 0, tzinfo=UTC)  # untouched: the same instant


async def test_update_refuses_a_window_out_of_order_and_changes_nothing(env: Env) -> None:
    exam = await create(env)
    with pytest.raises(errors.ConfirmWindowOrder):
        async with env.tx() as db:
            loaded = await exams.get_exam(db, exam.id)
            await exams.update_exam(db, exam=loaded, fields={"confirm_closes_at": datetime(2026, 5, 1)}, now=env.now(), actor=OPS)
    assert (await env.row(Exam, exam.id)).confirm_closes_at == exam.confirm_closes_at


async def test_get_exam_and_its_zone(env: Env) -> None:
    exam = await create(env, timezone="Asia/Urumqi")
    async with env.tx() as db:
        assert await exams.exam_timezone(db, exam.id) == "Asia/Urumqi"
        with pytest.raises(errors.ExamNotFound):
            await exams.get_exam(db, uuid.uuid4())


async def test_notices_list_pinned_first_then_newest(env: Env) -> None:
    exam = await create(env)
    made = {}
    async with env.tx() as db:
        for title, pinned, minutes in (("old", False, 0), ("pinned old", True, 1), ("new", False, 2), ("pinned new", True, 3)):
            made[title] = await exams.create_notice(db, exam=exam, title=title, body="…", pinned=pinned, now=T0 + timedelta(minutes=minutes), actor=OPS)
    async with env.tx() as db:
        assert [n.title for n in await exams.list_notices(db, exam_id=exam.id)] == ["pinned new", "pinned old", "new", "old"]
        await exams.delete_notice(db, notice_id=made["new"].id, now=env.now(), actor=OPS)
        with pytest.raises(errors.NoticeNotFound):
            await exams.delete_notice(db, notice_id=uuid.uuid4(), now=env.now(), actor=OPS)
    async with env.tx() as db:
        assert [n.title for n in await exams.list_notices(db, exam_id=exam.id)] == ["pinned new", "pinned old", "old"]
    (deleted,) = await env.audit("notice.delete")
    assert deleted.details == {"title": "new", "exam_id": str(exam.id)}  # the notice is gone: its exam stays named
