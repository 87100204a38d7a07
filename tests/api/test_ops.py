"""The ops API: exams (partial updates, exam-local times), notices, sessions, questions, the live status of a session
as the clock moves through its windows, its sittings, staff accounts, and the audit log of every ops action."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta, timezone
from typing import Any

import pytest

from app.db import transaction
from app.services.sitting import facts, sittings
from app.services.audit import Actor
from tests.conftest import T0
from tests.support.api import PASSWORD, Api, id_number

pytestmark = pytest.mark.anyio

OPENS = T0 + timedelta(hours=1)
STARTS = OPENS + timedelta(minutes=10)
ENDS = STARTS + timedelta(minutes=30)
DEADLINE = ENDS + timedelta(hours=2)
BEIJING = timezone(timedelta(hours=8))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.mark.parametrize(
    ("timezone", "sent", "shown"),
    [
        ("Asia/Shanghai", "2026-06-03T09:00:00", "2026-06-03T09:00:00+08:00"),  # no offset: read in the exam's timezone
        ("Asia/Shanghai", "2026-06-03T01:00:00Z", "2026-06-03T09:00:00+08:00"),
        ("Asia/Shanghai", "2026-06-03T09:00:00+08:00", "2026-06-03T09:00:00+08:00"),
        ("Asia/Urumqi", "2026-06-03T09:00:00", "2026-06-03T09:00:00+06:00"),
        ("Europe/Berlin", "2026-06-03T01:00:00Z", "2026-06-03T03:00:00+02:00"),
    ],
)
async def test_exam_times_are_read_and_shown_in_the_exam_timezone(api: Api, timezone: str, sent: str, shown: str) -> None:
    ops = await api.staff()
    exam = await api.exam(ops, timezone=timezone, confirm_closes_at=sent)
    assert exam["confirm_closes_at"] == shown and exam["timezone"] == timezone
    session = await api.session(ops, exam["id"], "formal", waiting_opens_at="2026-06-02T20:00:00Z", answer_starts_at="2026-06-02T20:10:00Z",
                                answer_ends_at="2026-06-02T20:40:00Z", upload_deadline=sent)  # fmt: skip
    assert session["upload_deadline"] == shown


@pytest.mark.parametrize("server_zone", ["Asia/Shanghai", "Asia/Urumqi"])
async def test_an_exam_created_without_a_timezone_takes_the_servers(api: Api, server_zone: str) -> None:
    api.app.state.settings.timezone = server_zone  # DUALCAM_TIMEZONE, read when the exam is created
    ops = await api.staff()
    exam = await api.exam(ops, confirm_closes_at="2026-06-03T09:00:00")
    assert exam["timezone"] == server_zone
    offset = "+08:00" if server_zone == "Asia/Shanghai" else "+06:00"
    assert exam["confirm_closes_at"] == f"2026-06-03T09:00:00{offset}"


async def test_patch_changes_only_the_fields_sent(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops, support_qq="12345")
    updated = await api.ok("PATCH", f"/api/v1/ops/exams/{exam['id']}", ops, json={"support_hours": "09:00-17:00", "confirm_opens_at": "2026-05-30T00:00:00"})
    expected = {**exam, "support": {**exam["support"], "hours": "09:00-17:00"}, "confirm_opens_at": "2026-05-30T00:00:00+08:00"}
    assert updated == expected
    assert await api.ok("GET", f"/api/v1/ops/exams/{exam['id']}", ops) == expected
    assert (await api.ok("GET", "/api/v1/ops/exams", ops)) == [expected]


async def test_notices_are_published_listed_pinned_first_and_withdrawn(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    _, candidate = await api.candidate(ops, exam["id"])
    url = f"/api/v1/ops/exams/{exam['id']}/notices"
    first = await api.ok("POST", url, ops, status=201, json={"title": "旧通知", "body": "a"})
    api.clock.advance(minutes=1)
    pinned = await api.ok("POST", url, ops, status=201, json={"title": "置顶", "body": "b", "pinned": True})
    api.clock.advance(minutes=1)
    newest = await api.ok("POST", url, ops, status=201, json={"title": "新通知", "body": "c"})
    assert newest["published_at"] == "2026-06-01T08:02:00+08:00"
    assert [n["title"] for n in await api.ok("GET", url, ops)] == ["置顶", "新通知", "旧通知"]
    assert [n["id"] for n in await api.ok("GET", "/api/v1/candidate/notices", candidate)] == [pinned["id"], newest["id"], first["id"]]
    await api.ok("DELETE", f"/api/v1/ops/notices/{pinned['id']}", ops, status=204)
    assert [n["title"] for n in await api.ok("GET", "/api/v1/candidate/notices", candidate)] == ["新通知", "旧通知"]
    again = await api.request("DELETE", f"/api/v1/ops/notices/{pinned['id']}", ops)
    assert (again.status_code, again.json()["error"]["code"]) == (404, "notice_not_found")


async def test_sessions_list_practice_first_then_by_time_and_change_before_waiting_opens(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    late = await api.timed_session(ops, exam["id"], OPENS + timedelta(days=1), STARTS + timedelta(days=1), ENDS + timedelta(days=1), DEADLINE + timedelta(days=1))
    early = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE, kind="mock")
    practice = await api.session(ops, exam["id"], "practice", waiting_seconds=60, answer_seconds=600, upload_seconds=600)
    listing = await api.ok("GET", f"/api/v1/ops/exams/{exam['id']}/sessions", ops)
    assert [s["id"] for s in listing] == [practice["id"], early["id"], late["id"]]

    api.clock.set(OPENS - timedelta(seconds=1))
    moved = await api.ok("PATCH", f"/api/v1/ops/sessions/{early['id']}", ops, json={"title": "模拟考", "answer_ends_at": "2026-06-01T09:50:00"})
    assert (moved["title"], moved["answer_ends_at"], moved["waiting_opens_at"]) == ("模拟考", "2026-06-01T09:50:00+08:00", early["waiting_opens_at"])
    assert await api.ok("GET", f"/api/v1/ops/sessions/{early['id']}", ops) == moved
    api.clock.set(OPENS)  # waiting opened: times are frozen, the title is not
    frozen = await api.request("PATCH", f"/api/v1/ops/sessions/{early['id']}", ops, json={"answer_ends_at": "2026-06-01T09:55:00"})
    assert (frozen.status_code, frozen.json()["error"]["code"]) == (409, "session_started")
    assert (await api.ok("PATCH", f"/api/v1/ops/sessions/{early['id']}", ops, json={"title": "模拟考（一）"}))["title"] == "模拟考（一）"


async def test_questions_are_numbered_and_carry_their_image(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    first = await api.question(ops, session["id"], "第一题")
    second = await api.question(ops, session["id"], "第二题")
    with_image = await api.ok("PUT", f"/api/v1/ops/sessions/{session['id']}/questions/{second['id']}/image", ops, files={"image": ("x.png", PNG, "image/png")})
    assert with_image == {**second, "has_image": True}
    listing = await api.ok("GET", f"/api/v1/ops/sessions/{session['id']}/questions", ops)
    assert [(q["position"], q["text"], q["has_image"]) for q in listing] == [(1, "第一题", False), (2, "第二题", True)]
    assert listing[0] == first
    # A typo corrected until the waiting window opens, audited; then the questions stand.
    fixed = await api.ok("PATCH", f"/api/v1/ops/sessions/{session['id']}/questions/{first['id']}", ops, json={"text": "第一题（改）"})
    assert (fixed["position"], fixed["text"], fixed["has_image"]) == (1, "第一题（改）", False)
    assert (await api.ok("GET", "/api/v1/ops/audit", ops, params={"action": "question.update"}))[0]["target_id"] == first["id"]
    # Ops see what they attached; a question without one, or of another session, has no image here.
    image = await api.request("GET", f"/api/v1/ops/sessions/{session['id']}/questions/{second['id']}/image", ops)
    assert (image.status_code, image.content, image.headers["content-type"], image.headers["cache-control"]) == (200, PNG, "image/png", "no-store")
    other = await api.timed_session(ops, (await api.exam(ops))["id"], OPENS, STARTS, ENDS, DEADLINE)
    for url in (f"/api/v1/ops/sessions/{session['id']}/questions/{first['id']}/image", f"/api/v1/ops/sessions/{other['id']}/questions/{second['id']}/image"):
        response = await api.request("GET", url, ops)
        assert (response.status_code, response.json()["error"]["code"]) == (404, "question_not_found"), url


# --- the live status of a session -------------------------------------------------------------------------------

Hook = Callable[..., Any]


async def hook(api: Api, token: str, sitting_id: str, fn: Hook, **kwargs: Any) -> Any:
    """Call a sitting hook (what the device, face and upload services do) at the current fake time."""
    me = await api.ok("GET", "/api/v1/candidate/me", token)
    async with transaction(api.app.state.sessionmaker) as db:
        view = await sittings.load(db, sitting_id=uuid.UUID(sitting_id), candidate_id=uuid.UUID(me["id"]), now=api.clock.now())
        return fn(db, view=view, now=api.clock.now(), **kwargs)


def stop(db: Any, **kwargs: Any) -> Any:
    return facts.stop_recording(db, actor=Actor("device", "test-main"), **kwargs)


# (when, hooks to call then as (candidate, hook), expected non-zero counts)
TIMELINE: list[tuple[Any, list[tuple[str, Hook]], dict[str, int]]] = [
    (T0, [], {"scheduled": 4}),
    (OPENS - timedelta(seconds=1), [], {"scheduled": 4}),
    (OPENS, [], {"waiting": 4}),
    (OPENS + timedelta(minutes=1), [("甲", facts.mark_ready), ("乙", facts.mark_ready), ("丁", facts.mark_ready)], {"ready": 3, "waiting": 1}),
    (STARTS - timedelta(seconds=1), [], {"ready": 3, "waiting": 1}),
    (STARTS, [], {"answering": 3, "absent": 1}),
    (STARTS + timedelta(minutes=5), [("甲", stop)], {"recorded": 1, "answering": 2, "absent": 1}),
    (STARTS + timedelta(minutes=6), [("甲", facts.mark_uploaded)], {"uploaded": 1, "answering": 2, "absent": 1}),
    (ENDS, [], {"uploaded": 1, "recorded": 2, "absent": 1}),
    (ENDS + timedelta(minutes=1), [("丁", facts.mark_uploaded)], {"uploaded": 2, "recorded": 1, "absent": 1}),
    (DEADLINE - timedelta(seconds=1), [], {"uploaded": 2, "recorded": 1, "absent": 1}),
    (DEADLINE, [], {"uploaded": 2, "incomplete": 1, "absent": 1}),
]
STATES = ["scheduled", "waiting", "ready", "answering", "recorded", "uploaded", "absent", "terminated", "incomplete"]


async def test_status_counts_sittings_per_state_as_the_clock_moves(api: Api) -> None:
    ops = await api.staff()
    exam = await api.exam(ops)
    reviewer = await api.reviewer(ops, exam["id"])
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    people: dict[str, tuple[str, str]] = {}
    for seq, name in enumerate(("甲", "乙", "丙", "丁"), start=1):
        _, token = await api.candidate(ops, exam["id"], seq=seq, name=name)
        await api.confirm(token)
        people[name] = (token, (await api.sitting_of(token, session["id"]))["id"])
    await api.candidate(ops, exam["id"], seq=5, name="未确认")  # not confirmed: no sitting, not counted

    for at, hooks, expected in TIMELINE:
        api.clock.set(at)
        for name, fn in hooks:
            await hook(api, *people[name], fn)
        status = await api.ok("GET", f"/api/v1/ops/sessions/{session['id']}/status", reviewer)
        assert status["counts"] == {s: expected.get(s, 0) for s in STATES}, at
        assert status["total"] == 4 and status["now"] == at.astimezone(BEIJING).isoformat()

    rows = await api.ok("GET", f"/api/v1/ops/sessions/{session['id']}/sittings", ops)
    assert [(r["name"], r["state"]) for r in rows] == [("丁", "uploaded"), ("丙", "absent"), ("乙", "incomplete"), ("甲", "uploaded")]
    甲 = rows[3]
    assert 甲["id_number_masked"].endswith(id_number(1)[-4:]) and "*" in 甲["id_number_masked"]
    assert (甲["ready_at"], 甲["recording_stopped_at"], 甲["uploaded_at"]) == (
        "2026-06-01T09:01:00+08:00", "2026-06-01T09:15:00+08:00", "2026-06-01T09:16:00+08:00")  # fmt: skip
    assert rows[1]["ready_at"] is None and rows[1]["terminated_at"] is None


# --- staff and the audit log ------------------------------------------------------------------------------------


async def test_ops_create_staff_who_can_log_in_with_their_role(api: Api) -> None:
    ops = await api.staff(username="chief")
    created = await api.ok("POST", "/api/v1/ops/staff", ops, status=201, json={"username": "li.review", "display_name": "李审核", "role": "reviewer", "password": PASSWORD})
    assert created["username"] == "li.review" and created["display_name"] == "李审核"
    login = await api.ok("POST", "/api/v1/auth/staff/login", json={"username": "li.review", "password": PASSWORD})
    assert login["role"] == "reviewer"
    assert sorted(s["username"] for s in await api.ok("GET", "/api/v1/ops/staff", ops)) == ["chief", "li.review"]
    weak = await api.request("POST", "/api/v1/ops/staff", ops, json={"username": "weak", "display_name": "w", "role": "ops", "password": "password"})
    assert (weak.status_code, weak.json()["error"]["code"]) == (422, "weak_password")


async def test_the_audit_log_records_each_ops_action_with_actor_and_target(api: Api) -> None:
    ops = await api.staff(username="auditor-ops")
    (me,) = [s for s in await api.ok("GET", "/api/v1/ops/staff", ops) if s["username"] == "auditor-ops"]

    async def act(method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
        # The clock stands still: every entry has the same time, and the log still reads in the order of the actions.
        return await api.ok(method, url, ops, status=status, **kwargs)

    exam = await act("POST", "/api/v1/ops/exams", 201, json={"title": "t", "organizer": "o", "province": "山东", "identity_category": "其他",
                                                              "confirm_opens_at": "2026-06-01T00:00:00", "confirm_closes_at": "2026-07-01T00:00:00"})  # fmt: skip
    await act("PATCH", f"/api/v1/ops/exams/{exam['id']}", json={"support_hours": "全天"})
    notice = await act("POST", f"/api/v1/ops/exams/{exam['id']}/notices", 201, json={"title": "t", "body": "b"})
    await act("DELETE", f"/api/v1/ops/notices/{notice['id']}", 204)
    session = await act("POST", f"/api/v1/ops/exams/{exam['id']}/sessions", 201, json={"kind": "formal", "title": "f", "waiting_opens_at": OPENS.isoformat(),
                        "answer_starts_at": STARTS.isoformat(), "answer_ends_at": ENDS.isoformat(), "upload_deadline": DEADLINE.isoformat()})  # fmt: skip
    await act("PATCH", f"/api/v1/ops/sessions/{session['id']}", json={"title": "正式场"})
    question = await act("POST", f"/api/v1/ops/sessions/{session['id']}/questions", 201, json={"text": "题"})
    await act("PUT", f"/api/v1/ops/sessions/{session['id']}/questions/{question['id']}/image", files={"image": ("x.png", PNG, "image/png")})
    csv_file = ("r.csv", f"姓名,身份证号,手机号\n王五,{id_number(7)},13900000007\n".encode(), "text/csv")
    (row,) = (await act("POST", f"/api/v1/ops/exams/{exam['id']}/roster", 201, files={"csv_file": csv_file}))["imported"]
    await act("POST", f"/api/v1/ops/candidates/{row['candidate_id']}/access-code")
    staff = await act("POST", "/api/v1/ops/staff", 201, json={"username": "new.ops", "display_name": "n", "role": "ops", "password": PASSWORD})

    entries = await api.ok("GET", "/api/v1/ops/audit?limit=1000", ops)
    mine = [(e["action"], e["target_kind"], e["target_id"]) for e in reversed(entries) if e["actor_kind"] == "ops" and e["actor_id"] == me["id"]]
    assert [m for m in mine if m[0] != "auth.login"] == [
        ("exam.create", "exam", exam["id"]),
        ("exam.update", "exam", exam["id"]),
        ("notice.create", "notice", notice["id"]),
        ("notice.delete", "notice", notice["id"]),
        ("session.create", "session", session["id"]),
        ("session.update", "session", session["id"]),
        ("question.create", "question", question["id"]),
        ("question.image.set", "question", question["id"]),
        ("roster.import", "exam", exam["id"]),
        ("candidate.access_code.reissue", "candidate", row["candidate_id"]),
        ("staff.create", "staff", staff["id"]),
    ]
    # An exam's entries are in its timezone; the staff account's belongs to no exam and stays in UTC.
    assert [e["at"] for e in entries if e["action"] == "exam.create"] == ["2026-06-01T08:00:00+08:00"]
    assert [e["at"] for e in entries if e["action"] == "staff.create" and e["target_id"] == staff["id"]] == ["2026-06-01T00:00:00Z"]
    filtered = await api.ok("GET", f"/api/v1/ops/audit?target_id={exam['id']}", ops)
    assert [e["action"] for e in filtered] and all(e["target_id"] == exam["id"] for e in filtered)
    assert (await api.ok("GET", "/api/v1/ops/audit?action=notice.delete", ops))[0]["details"] == {"title": "t", "exam_id": exam["id"]}


async def test_the_audit_log_pages_back_in_time_with_before(api: Api) -> None:
    ops = await api.staff()
    first = await api.exam(ops, title="早")
    api.clock.advance(minutes=10)
    await api.exam(ops, title="晚")
    # 08:05 in Beijing is 00:05Z: between the two creations (T0 is 08:00 in Beijing).
    older = await api.ok("GET", "/api/v1/ops/audit", ops, params={"action": "exam.create", "before": "2026-06-01T08:05:00+08:00"})
    assert [e["target_id"] for e in older] == [first["id"]]
    assert len(await api.ok("GET", "/api/v1/ops/audit", ops, params={"action": "exam.create", "before": "2026-06-01T00:11:00Z"})) == 2
