"""exam/candidates: self-registration (only where the exam allows it, valid ID number and phone, a strong password,
once per person and phone) and confirmation (inside the window, the exam's category and province, its rules
accepted; idempotent; it binds the candidate to every timed session)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app import errors
from app.models import Candidate, Exam, Sitting
from app.security import verify_password
from app.services.exam import candidates
from tests.conftest import T0
from tests.services.conftest import QUESTION, Env, S
from tests.support.api import PASSWORD, id_number, phone

pytestmark = pytest.mark.anyio

OPENS, CLOSES = T0 - timedelta(days=1), T0 + timedelta(days=1)


async def register(env: Env, exam: Exam, **overrides: Any) -> Candidate:
    person = {"name": " 张三 ", "id_number": id_number(1), "phone": phone(1), "password": PASSWORD} | overrides
    async with env.tx() as db:
        return await candidates.register(db, exam=exam, now=env.now(), secret_key=env.settings.secret_key, **person)


async def test_register_stores_the_id_number_only_hashed_and_masked(env: Env) -> None:
    exam = await env.exam()
    made = await register(env, exam, id_number=id_number(1).lower(), phone="+86 139-0000-0001")
    stored = await env.row(Candidate, made.id)
    assert (stored.name, stored.phone, stored.exam_id) == ("张三", "13900000001", exam.id)
    assert stored.id_number_masked == f"{id_number(1)[:4]}**********{id_number(1)[-4:]}"
    assert id_number(1) not in stored.id_number_hash and stored.id_number_hash != hashlib.sha256(id_number(1).encode()).hexdigest()
    assert verify_password(PASSWORD, stored.password_hash)
    assert (stored.confirmed_at, stored.access_code_hash) == (None, None)
    (entry,) = await env.audit("candidate.register")
    assert (entry.actor_kind, entry.actor_id) == ("candidate", str(made.id))


REGISTRATIONS = [
    ("bad check digit", {"id_number": id_number(1)[:-1] + ("0" if id_number(1)[-1] != "0" else "1")}, errors.InvalidIdNumber),
    ("short ID number", {"id_number": "37010219900101"}, errors.InvalidIdNumber),
    ("landline", {"phone": "0531-88888888"}, errors.InvalidPhone),
    ("phone too short", {"phone": "1390000001"}, errors.InvalidPhone),
    ("letters only", {"password": "abcdefghij"}, errors.WeakPassword),
    ("too short", {"password": "abc123"}, errors.WeakPassword),
]


@pytest.mark.parametrize(("label", "person", "error"), REGISTRATIONS, ids=[r[0] for r in REGISTRATIONS])
async def test_register_refuses_bad_input(env: Env, label: str, person: dict[str, str], error: type[errors.DualcamError]) -> None:
    exam = await env.exam()
    with pytest.raises(error):
        await register(env, exam, **person)


async def test_register_only_where_the_exam_allows_it(env: Env) -> None:
    exam = await env.exam(self_registration=False)
    with pytest.raises(errors.SelfRegistrationClosed):
        await register(env, exam)


@pytest.mark.parametrize(("label", "again"), [("same ID number", {"phone": phone(2)}), ("same phone", {"id_number": id_number(2)})])
async def test_register_once_per_id_number_and_phone_in_an_exam(env: Env, label: str, again: dict[str, str]) -> None:
    exam, other = await env.exam(), await env.exam(title="另一考试")
    await register(env, exam)
    with pytest.raises(errors.AlreadyRegistered):
        await register(env, exam, **again)
    await register(env, other)  # another exam's roster is its own


CONFIRMS = [
    # (label, now, category, province, rules accepted, error)
    ("a second before the window", OPENS - S, "其他", "山东", True, errors.ConfirmationNotOpen),
    ("as the window opens", OPENS, "其他", "山东", True, None),
    ("the window's last second", CLOSES - S, "其他", "山东", True, None),
    ("as the window closes", CLOSES, "其他", "山东", True, errors.ConfirmationClosed),
    ("another identity category", T0, "应届毕业生", "山东", True, errors.IdentityCategoryMismatch),
    ("another province", T0, "其他", "北京", True, errors.ProvinceMismatch),
    ("surrounding spaces", T0, " 其他 ", " 山东\t", True, None),
    ("rules not accepted", T0, "其他", "山东", False, errors.RulesNotAccepted),
]


@pytest.mark.parametrize(("label", "now", "category", "province", "accept", "error"), CONFIRMS, ids=[c[0] for c in CONFIRMS])
async def test_confirm(env: Env, label: str, now: datetime, category: str, province: str, accept: bool, error: type[errors.DualcamError] | None) -> None:
    exam = await env.exam(confirm_opens_at=OPENS, confirm_closes_at=CLOSES)
    candidate = await env.candidate(exam, confirm=False)

    async def confirm() -> Candidate:
        async with env.tx() as db:
            mine = await db.get_one(Candidate, candidate.id)
            return await candidates.confirm(db, candidate=mine, exam=exam, identity_category=category, province=province, accept_rules=accept, now=now)

    if error is not None:
        with pytest.raises(error):
            await confirm()
        assert (await env.row(Candidate, candidate.id)).confirmed_at is None
        return
    await confirm()
    stored = await env.row(Candidate, candidate.id)
    assert (stored.confirmed_at, stored.confirmed_rules_sha256) == (now, candidates.rules_digest(exam))


async def test_confirm_is_idempotent_even_after_the_window(env: Env) -> None:
    exam = await env.exam(confirm_opens_at=OPENS, confirm_closes_at=CLOSES)
    candidate = await env.candidate(exam)  # confirmed at T0
    async with env.tx() as db:
        mine = await db.get_one(Candidate, candidate.id)
        again = await candidates.confirm(db, candidate=mine, exam=exam, identity_category="?", province="?", accept_rules=False, now=CLOSES + S)
    assert again.confirmed_at == T0
    assert len(await env.audit("candidate.confirm")) == 1


async def test_confirm_binds_the_candidate_to_every_timed_session(env: Env) -> None:
    exam = await env.exam()
    formal = await env.formal(exam, QUESTION)
    practice = await env.practice(exam, "练习")
    candidate = await env.candidate(exam)
    async with env.tx() as db:
        rows = (await db.scalars(select(Sitting).where(Sitting.candidate_id == candidate.id))).all()
    assert [(s.session_id, s.attempt) for s in rows] == [(formal.id, 1)]
    assert practice.id not in {s.session_id for s in rows}  # practice attempts start on demand


async def test_get_and_list_candidates(env: Env) -> None:
    exam, other = await env.exam(), await env.exam(title="另一考试")
    made = [await env.candidate(exam) for _ in range(3)]
    async with env.tx() as db:
        assert (await candidates.get_candidate(db, made[0].id, exam_id=exam.id)).id == made[0].id
        with pytest.raises(errors.CandidateNotFound):
            await candidates.get_candidate(db, made[0].id, exam_id=other.id)
        with pytest.raises(errors.CandidateNotFound):
            await candidates.get_candidate(db, uuid.uuid4())
        total, page = await candidates.list_candidates(db, exam_id=exam.id, offset=1, limit=1)
    assert (total, [c.id for c in page]) == (3, [made[1].id])
