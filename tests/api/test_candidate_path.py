"""The candidate's whole path through the API: log in → notices → confirm → sessions → sitting."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import T0
from tests.support.api import Api, id_number, phone

pytestmark = pytest.mark.anyio

CONFIRM = {"identity_category": "其他", "province": "山东", "accept_rules": True}


async def test_log_in_read_notices_confirm_and_list_sessions(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops, confirm_opens_at="2026-06-01T00:00:00", confirm_closes_at="2026-06-05T18:00:00")
    await api.ok("POST", f"/api/v1/ops/exams/{exam['id']}/notices", ops, status=201, json={"title": "考前须知", "body": "请保持两部手机充电", "pinned": True})
    practice = await api.session(ops, exam["id"], "practice", waiting_seconds=60, answer_seconds=120, upload_seconds=600)
    formal = await api.session(
        ops, exam["id"], "formal",
        waiting_opens_at="2026-06-10T08:50:00", answer_starts_at="2026-06-10T09:00:00",
        answer_ends_at="2026-06-10T09:10:00", upload_deadline="2026-06-10T12:00:00",
    )
    row, token = await api.candidate(ops, exam["id"])
    assert row["id_number_masked"] == "3701**********" + id_number(1)[-4:]

    me = await api.ok("GET", "/api/v1/candidate/me", token)
    assert me["name"] == "张三" and me["confirmed_at"] is None and me["must_set_password"] is True
    info = await api.ok("GET", "/api/v1/candidate/exam", token)
    assert info["support"] == {"phone": "400-000-0000", "qq": "", "wechat": "", "hours": "08:00-20:00"}
    assert "不得退出视频录制过程" in info["rules_text"]
    notices = await api.ok("GET", "/api/v1/candidate/notices", token)
    assert [n["title"] for n in notices] == ["考前须知"]

    # Before confirming there is no sitting in the formal session.
    sessions = await api.ok("GET", "/api/v1/candidate/sessions", token)
    assert [s["kind"] for s in sessions] == ["practice", "formal"]
    assert all(s["sitting"] is None for s in sessions)

    confirmed = await api.confirm(token)
    assert confirmed["confirmed_at"] == "2026-06-01T08:00:00+08:00"

    sessions = await api.ok("GET", "/api/v1/candidate/sessions", token)
    formal_view = next(s for s in sessions if s["id"] == formal["id"])
    # Times are shown in the exam's timezone (Beijing), whatever the server's.
    assert formal_view["answer_starts_at"] == "2026-06-10T09:00:00+08:00"
    assert formal_view["timezone"] == "Asia/Shanghai"
    assert formal_view["sitting"]["state"] == "scheduled"
    assert formal_view["sitting"]["windows"]["upload_deadline"] == "2026-06-10T12:00:00+08:00"
    assert next(s for s in sessions if s["id"] == practice["id"])["sitting"] is None

    # Sessions created after confirmation get a sitting for confirmed candidates too.
    mock = await api.session(
        ops, exam["id"], "mock",
        waiting_opens_at="2026-06-08T08:50:00", answer_starts_at="2026-06-08T09:00:00",
        answer_ends_at="2026-06-08T09:10:00", upload_deadline="2026-06-08T12:00:00",
    )
    assert (await api.sitting_of(token, mock["id"]))["state"] == "scheduled"

    # Confirming twice is harmless (a double tap on a slow network).
    again = await api.confirm(token)
    assert again["confirmed_at"] == confirmed["confirmed_at"]


@pytest.mark.parametrize(
    ("offset", "status", "code"),
    [
        (timedelta(seconds=-1), 409, "confirmation_not_open"),
        (timedelta(0), 200, None),
        (timedelta(days=1), 200, None),
        (timedelta(days=2, seconds=-1), 200, None),
        (timedelta(days=2), 409, "confirmation_closed"),
    ],
)
async def test_confirmation_window_boundaries(api: Api, offset: timedelta, status: int, code: str | None) -> None:
    ops = await api.staff()
    opens = T0 + timedelta(hours=1)
    exam = await api.exam(ops, confirm_opens_at=opens.isoformat(), confirm_closes_at=(opens + timedelta(days=2)).isoformat())
    _, token = await api.candidate(ops, exam["id"])
    api.clock.set(opens + offset)
    response = await api.request("POST", "/api/v1/candidate/confirmation", token, json=CONFIRM)
    assert response.status_code == status, response.text
    if code:
        assert response.json()["error"]["code"] == code
        me = await api.ok("GET", "/api/v1/candidate/me", token)
        assert me["confirmed_at"] is None  # nothing changed


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({**CONFIRM, "identity_category": "应届毕业生"}, "identity_category_mismatch"),
        ({**CONFIRM, "province": "河北"}, "province_mismatch"),
        ({**CONFIRM, "accept_rules": False}, "rules_not_accepted"),
    ],
)
async def test_confirmation_requires_matching_category_province_and_rules(api: Api, body: dict, code: str) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    _, token = await api.candidate(ops, exam["id"])
    response = await api.request("POST", "/api/v1/candidate/confirmation", token, json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["message_en"]
    assert (await api.ok("GET", "/api/v1/candidate/me", token))["confirmed_at"] is None


async def test_confirmation_records_the_accepted_rules_in_the_audit_log(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    row, token = await api.candidate(ops, exam["id"])
    await api.confirm(token)
    entries = await api.ok("GET", "/api/v1/ops/audit", ops, params={"action": "candidate.confirm"})
    assert [e["target_id"] for e in entries] == [row["candidate_id"]]
    assert len(entries[0]["details"]["rules_sha256"]) == 64


async def test_login_by_phone_and_password_change(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    row, token = await api.candidate(ops, exam["id"], seq=7)
    weak = await api.request("PUT", "/api/v1/candidate/password", token, json={"current": row["access_code"], "new": "12345678"})
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "weak_password"
    await api.ok("PUT", "/api/v1/candidate/password", token, status=204, json={"current": row["access_code"], "new": "MyPassw0rd"})
    # The access code stopped working; the password works with the phone number.
    old = await api.request("POST", "/api/v1/auth/candidate/login", json={"identifier": phone(7), "secret": row["access_code"]})
    assert old.status_code == 401
    await api.ok("POST", "/api/v1/auth/candidate/login", json={"identifier": phone(7), "secret": "MyPassw0rd"})


async def test_self_registration_only_where_the_exam_allows_it(api: Api) -> None:
    ops = await api.staff()
    closed = await api.exam(ops)
    body = {"name": "李四", "id_number": id_number(42), "phone": phone(42), "password": "Regist3red"}
    refused = await api.request("POST", f"/api/v1/exams/{closed['id']}/registrations", json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "self_registration_closed"

    open_exam = await api.exam(ops, self_registration=True)
    token = (await api.ok("POST", f"/api/v1/exams/{open_exam['id']}/registrations", status=201, json=body))["token"]
    assert (await api.ok("GET", "/api/v1/candidate/me", token))["name"] == "李四"
    twice = await api.request("POST", f"/api/v1/exams/{open_exam['id']}/registrations", json=body)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_registered"
    bad_id = await api.request("POST", f"/api/v1/exams/{open_exam['id']}/registrations", json={**body, "id_number": "370102199001011230"})
    assert bad_id.status_code == 422 and bad_id.json()["error"]["code"] == "invalid_id_number"


async def test_practice_attempts_are_unlimited_one_open_at_a_time_and_never_absent(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    practice = await api.session(ops, exam["id"], "practice", waiting_seconds=30, answer_seconds=60, upload_seconds=600)
    pool = {(await api.question(ops, practice["id"], f"练习题 {i}"))["text"] for i in range(3)}
    row, token = await api.candidate(ops, exam["id"])
    start = f"/api/v1/candidate/practice/{practice['id']}/attempts"
    first = await api.ok("POST", start, token, status=201)
    assert (first["attempt"], first["state"], first["missed_start"]) == (1, "waiting", False)
    # Pressed again a few seconds later, and opened on a second phone (another log-in): the same attempt, 200.
    api.clock.advance(seconds=5)
    again = await api.ok("POST", start, token, status=200)
    second_phone = (await api.ok("POST", "/api/v1/auth/candidate/login", json={"identifier": id_number(1), "secret": row["access_code"]}))["token"]
    there = await api.ok("POST", start, second_phone, status=200)
    assert again["id"] == there["id"] == first["id"]
    assert again["windows"] == there["windows"] == first["windows"]  # its own start, not the second press
    (listed,) = [s for s in await api.ok("GET", "/api/v1/candidate/sessions", token) if s["id"] == practice["id"]]
    assert listed["sitting"]["id"] == first["id"]
    early = await api.request("GET", f"/api/v1/candidate/sittings/{first['id']}/questions", token)
    assert early.status_code == 403 and early.json()["error"]["code"] == "question_not_revealed"

    # Not ready (no devices, no face) when its waiting ended: the attempt ends unfinished — never absent — and shows
    # no question; no phone logs in to it any more.
    api.clock.set(T0 + timedelta(seconds=30))
    ended = await api.ok("GET", f"/api/v1/candidate/sittings/{first['id']}", token)
    assert (ended["state"], ended["missed_start"]) == ("incomplete", True)
    closed = await api.request("GET", f"/api/v1/candidate/sittings/{first['id']}/questions", token)
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "sitting_closed"
    device = await api.request("POST", f"/api/v1/candidate/sittings/{first['id']}/devices", token, json={"role": "main"})
    assert device.status_code == 409 and device.json()["error"]["code"] == "sitting_closed"
    # Ended, so the next start is a new attempt, waiting from now.
    second = await api.ok("POST", start, token, status=201)
    assert (second["attempt"], second["state"]) == (2, "waiting")
    assert second["windows"]["waiting_opens_at"] == ended["server_now"]
    # A formal session is not a practice.
    formal = await api.session(
        ops, exam["id"], "formal",
        waiting_opens_at="2026-06-10T08:50:00", answer_starts_at="2026-06-10T09:00:00",
        answer_ends_at="2026-06-10T09:10:00", upload_deadline="2026-06-10T12:00:00",
    )
    refused = await api.request("POST", f"/api/v1/candidate/practice/{formal['id']}/attempts", token)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_practice"
    assert pool  # the pool questions exist; which one an attempt shows is covered in the confidentiality tests


async def test_another_candidates_sitting_is_not_found(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    formal = await api.session(
        ops, exam["id"], "formal",
        waiting_opens_at="2026-06-10T08:50:00", answer_starts_at="2026-06-10T09:00:00",
        answer_ends_at="2026-06-10T09:10:00", upload_deadline="2026-06-10T12:00:00",
    )
    _, alice = await api.candidate(ops, exam["id"], seq=1)
    _, bob = await api.candidate(ops, exam["id"], seq=2, name="李四")
    await api.confirm(alice)
    await api.confirm(bob)
    sitting = await api.sitting_of(alice, formal["id"])
    response = await api.request("GET", f"/api/v1/candidate/sittings/{sitting['id']}", bob)
    assert response.status_code == 404 and response.json()["error"]["code"] == "sitting_not_found"
    response = await api.request("POST", f"/api/v1/candidate/sittings/{sitting['id']}/devices", bob, json={"role": "main"})
    assert response.status_code == 404
