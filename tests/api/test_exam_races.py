"""Candidate and session steps raced through the API (tests/support/concurrency.py), on SQLite and PostgreSQL:
practice starts at once making one attempt, question positions numbered without a gap, a confirmation or a
registration made once, a candidate confirming while a session is created gets its sitting, overlapping sessions are
refused."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.models import Sitting
from tests.support.api import Api, id_number, phone
from tests.support.concurrency import N, at_once, codes
from tests.support.realtime import DEADLINE, ENDS, OPENS, QUESTION, STARTS

pytestmark = pytest.mark.anyio


async def test_ten_practice_starts_at_once_make_one_attempt_all_of_them_answer(api: Api) -> None:
    """Two phones opening the practice, a button pressed again: one attempt (201), every other start answers it (200)."""
    ops = await api.staff()
    exam = await api.exam(ops)
    practice = await api.session(ops, exam["id"], "practice", answer_seconds=60, waiting_seconds=60, upload_seconds=600)
    await api.question(ops, practice["id"], QUESTION)
    _, token = await api.candidate(ops, exam["id"])
    await api.confirm(token)
    start = f"/api/v1/candidate/practice/{practice['id']}/attempts"

    responses = await at_once(*(api.request("POST", start, token) for _ in range(N)))

    assert codes(responses) == {(201, None): 1, (200, None): N - 1}
    async with api.app.state.sessionmaker() as db:
        rows = (await db.execute(select(Sitting.id, Sitting.attempt).where(Sitting.session_id == uuid.UUID(practice["id"])))).all()
    assert [attempt for _, attempt in rows] == [1]
    assert {r.json()["id"] for r in responses} == {str(rows[0].id)}

    # Once it ended (not ready when its 60 s of waiting were over), starts at once make the next one, once.
    api.clock.advance(seconds=60)
    responses = await at_once(*(api.request("POST", start, token) for _ in range(N)))
    assert codes(responses) == {(201, None): 1, (200, None): N - 1}
    (created,) = [r.json() for r in responses if r.status_code == 201]
    assert created["attempt"] == 2 and {r.json()["id"] for r in responses} == {created["id"]}
    async with api.app.state.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(Sitting).where(Sitting.session_id == uuid.UUID(practice["id"]))) == 2


async def test_ten_confirmations_at_once_confirm_once(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    sessions = [await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)]
    _, token = await api.candidate(ops, exam["id"])
    body = {"identity_category": "其他", "province": "山东", "accept_rules": True}

    responses = await at_once(*(api.request("POST", "/api/v1/candidate/confirmation", token, json=body) for _ in range(N)))

    assert codes(responses) == {(200, None): N}
    assert len({r.json()["confirmed_at"] for r in responses}) == 1
    async with api.app.state.sessionmaker() as db:
        assert await db.scalar(select(func.count()).select_from(Sitting)) == len(sessions)
    audit = await api.ok("GET", "/api/v1/ops/audit", ops, params={"action": "candidate.confirm"})
    assert len(audit) == 1


async def test_a_session_created_while_candidates_confirm_gives_each_one_sitting(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    body = {"identity_category": "其他", "province": "山东", "accept_rules": True}
    tokens = [(await api.candidate(ops, exam["id"], seq=seq, name=f"考生{seq}"))[1] for seq in range(1, 6)]
    opens = [OPENS + timedelta(days=day) for day in range(1, 3)]
    timed = {
        "kind": "formal", "title": "formal session", "waiting_opens_at": opens[0].isoformat(),
        "answer_starts_at": (opens[0] + timedelta(minutes=10)).isoformat(),
        "answer_ends_at": (opens[0] + timedelta(minutes=20)).isoformat(),
        "upload_deadline": (opens[0] + timedelta(hours=3)).isoformat(),
    }  # fmt: skip

    responses = await at_once(
        *(api.request("POST", "/api/v1/candidate/confirmation", token, json=body) for token in tokens),
        api.request("POST", f"/api/v1/ops/exams/{exam['id']}/sessions", ops, json=timed),
    )

    assert codes(responses) == {(200, None): len(tokens), (201, None): 1}
    async with api.app.state.sessionmaker() as db:
        rows = (await db.execute(select(Sitting.candidate_id, Sitting.session_id))).all()
    assert len(rows) == len(set(rows)) == len(tokens)


async def test_ten_registrations_at_once_register_once(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops, self_registration=True)
    body = {"name": "李四", "id_number": id_number(42), "phone": phone(42), "password": "Regist3red"}

    responses = await at_once(*(api.request("POST", f"/api/v1/exams/{exam['id']}/registrations", json=body) for _ in range(N)))

    assert codes(responses) == {(201, None): 1, (409, "already_registered"): N - 1}
    (token,) = [r.json()["token"] for r in responses if r.status_code == 201]
    assert (await api.ok("GET", "/api/v1/candidate/me", token))["name"] == "李四"


async def test_ten_questions_added_at_once_are_numbered_without_a_gap(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    url = f"/api/v1/ops/sessions/{session['id']}/questions"

    responses = await at_once(*(api.request("POST", url, ops, json={"text": f"题 {n}"}) for n in range(N)))

    assert codes(responses) == {(201, None): N}
    assert sorted(r.json()["position"] for r in responses) == list(range(1, N + 1))


async def test_two_overlapping_sessions_created_at_once_create_one(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    url = f"/api/v1/ops/exams/{exam['id']}/sessions"
    times = {
        "waiting_opens_at": OPENS.isoformat(), "answer_starts_at": STARTS.isoformat(),
        "answer_ends_at": ENDS.isoformat(), "upload_deadline": DEADLINE.isoformat(),
    }  # fmt: skip

    responses = await at_once(*(api.request("POST", url, ops, json={"kind": "formal", "title": f"场次 {n}", **times}) for n in range(2)))

    assert codes(responses) == {(201, None): 1, (409, "session_overlap"): 1}
    assert len(await api.ok("GET", url, ops)) == 1
