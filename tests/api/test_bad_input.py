"""Bad input, table-driven: each case gets a declared 4xx with a stable code and zh-CN + English messages, and
changes nothing (the relevant listings and the audit log read the same before and after)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import T0
from tests.support.api import own_app, PASSWORD, Api, SchemaChecker

pytestmark = pytest.mark.anyio

HOUR = timedelta(hours=1)
STARTED = T0 + HOUR  # the waiting window of session "started" opens here; the world's clock is past it
FUTURE = T0 + timedelta(days=1)  # session "future"
LATER = T0 + timedelta(days=2)  # session "later"
UNKNOWN = str(uuid.UUID(int=1))


def window(opens: datetime, *, starts: timedelta = timedelta(minutes=10), ends: timedelta = timedelta(minutes=40),
           deadline: timedelta = 3 * HOUR) -> dict[str, str]:  # fmt: skip
    """Session times as offsets from `opens` (so a case can put them out of order)."""
    return {
        "waiting_opens_at": opens.isoformat(),
        "answer_starts_at": (opens + starts).isoformat(),
        "answer_ends_at": (opens + ends).isoformat(),
        "upload_deadline": (opens + deadline).isoformat(),
    }


@dataclass
class World:
    api: Api
    ops: str
    candidate: str
    device: str  # the candidate's main phone
    ids: dict[str, str]

    def url(self, template: str) -> str:
        return template.format(unknown=UNKNOWN, **self.ids)


async def _seed(api: Api) -> World:
    ops = await api.staff()
    exam = await api.exam(ops)
    started = await api.timed_session(ops, exam["id"], STARTED, STARTED + timedelta(minutes=10), STARTED + timedelta(minutes=40), STARTED + 3 * HOUR)
    future = await api.session(ops, exam["id"], "formal", title="future", **window(FUTURE))
    later = await api.session(ops, exam["id"], "mock", title="later", **window(LATER))
    practice = await api.session(ops, exam["id"], "practice", waiting_seconds=60, answer_seconds=600, upload_seconds=600)
    question = await api.question(ops, future["id"], "正式题")
    started_question = await api.question(ops, started["id"], "已开始场次的题")
    await api.ok("POST", f"/api/v1/ops/exams/{exam['id']}/notices", ops, status=201, json={"title": "须知", "body": "请充电"})
    _, candidate = await api.candidate(ops, exam["id"])
    await api.confirm(candidate)
    device = await api.device(candidate, (await api.sitting_of(candidate, future["id"]))["id"], "main")
    api.clock.set(STARTED + timedelta(minutes=1))
    ids = {"exam": exam["id"], "started": started["id"], "future": future["id"], "later": later["id"], "practice": practice["id"],
           "question": question["id"], "started_question": started_question["id"]}  # fmt: skip
    return World(api, ops, candidate, device, ids)


@pytest.fixture(scope="module")
async def world(database_template: str | Path, tmp_path_factory: pytest.TempPathFactory, schema_checker: SchemaChecker) -> AsyncIterator[World]:
    """One world for the whole table: every case must leave it exactly as it found it, which the test checks."""
    async with own_app(database_template, tmp_path_factory.mktemp("bad_input"), schema_checker) as api:
        yield await _seed(api)


# What each kind of case could change, read before and after (the audit log is always read too).
WATCH = {
    "exams": ["/api/v1/ops/exams"],
    "sessions": ["/api/v1/ops/exams/{exam}/sessions"],
    "questions": ["/api/v1/ops/sessions/{future}/questions", "/api/v1/ops/sessions/{started}/questions"],
    "notices": ["/api/v1/ops/exams/{exam}/notices"],
    "staff": ["/api/v1/ops/staff"],
    "candidates": ["/api/v1/ops/exams/{exam}/candidates"],
    "candidate": ["/api/v1/candidate/sessions", "/api/v1/candidate/me"],
}

EXAM = {"title": "考试", "organizer": "单位", "province": "山东", "identity_category": "其他",
        "confirm_opens_at": "2026-06-01T08:00:00", "confirm_closes_at": "2026-06-05T18:00:00"}  # fmt: skip
FORMAL = {"kind": "formal", "title": "另一场"}
PRACTICE = {"kind": "practice", "title": "练习", "waiting_seconds": 60, "answer_seconds": 60, "upload_seconds": 60}
NOT_JSON = {"content": b'{"title": "unterminated', "headers": {"content-type": "application/json"}}
NOT_MULTIPART = {"content": b"garbage, no parts", "headers": {"content-type": "multipart/form-data; boundary=xyz"}}
NO_BOUNDARY = {"content": b"--xyz\r\n\r\n--xyz--\r\n", "headers": {"content-type": "multipart/form-data"}}


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    url: str  # formatted with the world's ids and {unknown}
    status: int
    code: str
    watch: str
    kwargs: Callable[[], dict[str, Any]] = dict
    as_candidate: bool = False
    as_device: bool = False


def _json(body: dict[str, Any] | list[Any]) -> Callable[[], dict[str, Any]]:
    return lambda: {"json": body}


def _image(data: bytes) -> Callable[[], dict[str, Any]]:
    return lambda: {"files": {"image": ("q.png", data, "image/png")}}


def _extra(body: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {**body, **more}


E, S = "/api/v1/ops/exams", "/api/v1/ops/sessions"
CASES = [
    # --- malformed JSON ----------------------------------------------------------------------------------
    Case("json: create exam", "POST", E, 400, "malformed_json", "exams", lambda: NOT_JSON),
    Case("json: patch exam", "PATCH", E + "/{exam}", 400, "malformed_json", "exams", lambda: NOT_JSON),
    Case("json: create session", "POST", E + "/{exam}/sessions", 400, "malformed_json", "sessions", lambda: NOT_JSON),
    Case("json: add question", "POST", S + "/{future}/questions", 400, "malformed_json", "questions", lambda: NOT_JSON),
    Case("json: confirm", "POST", "/api/v1/candidate/confirmation", 400, "malformed_json", "candidate", lambda: NOT_JSON, as_candidate=True),
    # --- wrong types, missing fields, unknown fields --------------------------------------------------------------
    Case("type: title a number", "POST", E, 422, "validation_error", "exams", _json(_extra(EXAM, title=123))),
    Case("type: time not a time", "POST", E, 422, "validation_error", "exams", _json(_extra(EXAM, confirm_opens_at="明天上午"))),
    Case("type: body a list", "POST", E, 422, "validation_error", "exams", _json([EXAM])),
    Case("type: unknown kind", "POST", E + "/{exam}/sessions", 422, "validation_error", "sessions", _json(_extra(PRACTICE, kind="exam"))),
    Case("type: seconds a word", "POST", E + "/{exam}/sessions", 422, "validation_error", "sessions", _json(_extra(PRACTICE, answer_seconds="ten"))),
    Case("type: seconds too small", "POST", E + "/{exam}/sessions", 422, "validation_error", "sessions", _json(_extra(PRACTICE, answer_seconds=1))),
    Case("type: pinned maybe", "POST", E + "/{exam}/notices", 422, "validation_error", "notices", _json({"title": "t", "body": "b", "pinned": "maybe"})),
    Case("type: accept_rules a list", "POST", "/api/v1/candidate/confirmation", 422, "validation_error", "candidate",
         _json({"identity_category": "其他", "province": "山东", "accept_rules": [True]}), as_candidate=True),
    # Lax coercion would take these (FastAPI validates JSON in pydantic's python mode): strict bools, ints, times.
    Case("strict: pinned 'true'", "POST", E + "/{exam}/notices", 422, "validation_error", "notices", _json({"title": "t", "body": "b", "pinned": "true"})),
    Case("strict: pinned 1", "POST", E + "/{exam}/notices", 422, "validation_error", "notices", _json({"title": "t", "body": "b", "pinned": 1})),
    Case("strict: accept_rules 'yes'", "POST", "/api/v1/candidate/confirmation", 422, "validation_error", "candidate",
         _json({"identity_category": "其他", "province": "山东", "accept_rules": "yes"}), as_candidate=True),
    Case("strict: self_registration 'on'", "POST", E, 422, "validation_error", "exams", _json(_extra(EXAM, self_registration="on"))),
    Case("strict: interruption_limit '2'", "PATCH", E + "/{exam}", 422, "validation_error", "exams", _json({"interruption_limit": "2"})),
    Case("strict: seconds 60.0", "POST", E + "/{exam}/sessions", 422, "validation_error", "sessions", _json(_extra(PRACTICE, answer_seconds=60.0))),
    Case("strict: time a number", "POST", E, 422, "validation_error", "exams", _json(_extra(EXAM, confirm_opens_at=1780000000))),
    Case("strict: time a number as text", "PATCH", E + "/{exam}", 422, "validation_error", "exams", _json({"confirm_closes_at": "1780000000"})),
    Case("strict: time a bare date", "PATCH", S + "/{later}", 422, "validation_error", "sessions", _json({"upload_deadline": "2026-06-04"})),
    Case("strict: event time a number", "POST", "/api/v1/device/events", 422, "validation_error", "candidate",
         _json({"kind": "battery_low", "client_at": 1780000000}), as_device=True),
    Case("strict: audit before 0.5", "GET", "/api/v1/ops/audit?before=0.5", 422, "validation_error", "staff"),
    Case("strict: audit before a date", "GET", "/api/v1/ops/audit?before=2026-06-01", 422, "validation_error", "staff"),
    Case("strict: audit before without offset", "GET", "/api/v1/ops/audit?before=2026-06-01T08:00:00", 422, "validation_error", "staff"),
    Case("type: huge offset", "GET", E + "/{exam}/candidates?offset=100000000000000000000", 422, "validation_error", "candidates"),
    Case("type: id not a uuid", "GET", E + "/not-a-uuid", 422, "validation_error", "exams"),
    Case("null: exam title", "PATCH", E + "/{exam}", 422, "validation_error", "exams", _json({"title": None})),
    Case("null: confirm window", "PATCH", E + "/{exam}", 422, "validation_error", "exams", _json({"confirm_opens_at": None})),
    Case("null: session title", "PATCH", S + "/{future}", 422, "validation_error", "sessions", _json({"title": None})),
    Case("year: 1 (overflows in +08:00)", "POST", E, 422, "validation_error", "exams", _json(_extra(EXAM, confirm_opens_at="0001-01-01T00:00:00"))),
    Case("year: 9999 (overflows on output)", "PATCH", E + "/{exam}", 422, "validation_error", "exams", _json({"confirm_closes_at": "9999-12-31T20:00:00Z"})),
    Case("year: session in 2200", "PATCH", S + "/{later}", 422, "validation_error", "sessions", _json({"upload_deadline": "2200-01-01T00:00:00"})),
    Case("missing: organizer", "POST", E, 422, "validation_error", "exams", _json({k: v for k, v in EXAM.items() if k != "organizer"})),
    Case("missing: notice body", "POST", E + "/{exam}/notices", 422, "validation_error", "notices", _json({"title": "t"})),
    Case("missing: question text", "POST", S + "/{future}/questions", 422, "validation_error", "questions", _json({})),
    Case("missing: staff password", "POST", "/api/v1/ops/staff", 422, "validation_error", "staff",
         _json({"username": "newbie", "display_name": "新人", "role": "reviewer"})),
    Case("missing: image file", "PUT", S + "/{future}/questions/{question}/image", 422, "validation_error", "questions"),
    Case("extra: exam colour", "POST", E, 422, "validation_error", "exams", _json(_extra(EXAM, colour="red"))),
    Case("extra: patch exam id", "PATCH", E + "/{exam}", 422, "validation_error", "exams", _json({"id": UNKNOWN})),
    Case("extra: patch session kind", "PATCH", S + "/{future}", 422, "validation_error", "sessions", _json({"kind": "mock"})),
    Case("extra: question answer", "POST", S + "/{future}/questions", 422, "validation_error", "questions", _json({"text": "q", "answer": "a"})),
    # --- malformed multipart (a boundary the body does not use, or none) ----------------------------------------
    *[
        Case(f"multipart: {name} {kind}", method, url, 400, "malformed_multipart", watch, body, as_candidate=who == "candidate", as_device=who == "device")
        for name, method, url, watch, who in [
            ("roster", "POST", E + "/{exam}/roster", "candidates", "ops"),
            ("question image", "PUT", S + "/{future}/questions/{question}/image", "questions", "ops"),
            ("id photo", "PUT", "/api/v1/candidate/id-photo", "candidate", "candidate"),
            ("selfie", "POST", "/api/v1/candidate/identity/selfie", "candidate", "candidate"),
            ("gate", "POST", "/api/v1/device/face", "candidate", "device"),
            ("in-exam check", "POST", "/api/v1/device/face/check", "candidate", "device"),
        ]
        for kind, body in [("bad boundary", lambda: NOT_MULTIPART), ("no boundary", lambda: NO_BOUNDARY)]
    ],
    # --- unknown ids --------------------------------------------------------------------------------------
    Case("404: get exam", "GET", E + "/{unknown}", 404, "exam_not_found", "exams"),
    Case("404: patch exam", "PATCH", E + "/{unknown}", 404, "exam_not_found", "exams", _json({"title": "x"})),
    Case("404: session of unknown exam", "POST", E + "/{unknown}/sessions", 404, "exam_not_found", "sessions", _json(PRACTICE)),
    Case("404: notice of unknown exam", "POST", E + "/{unknown}/notices", 404, "exam_not_found", "notices", _json({"title": "t", "body": "b"})),
    Case("404: delete notice", "DELETE", "/api/v1/ops/notices/{unknown}", 404, "notice_not_found", "notices"),
    Case("404: get session", "GET", S + "/{unknown}", 404, "session_not_found", "sessions"),
    Case("404: patch session", "PATCH", S + "/{unknown}", 404, "session_not_found", "sessions", _json({"title": "x"})),
    Case("404: question of unknown session", "POST", S + "/{unknown}/questions", 404, "session_not_found", "questions", _json({"text": "q"})),
    Case("404: image of unknown question", "PUT", S + "/{future}/questions/{unknown}/image", 404, "question_not_found", "questions", _image(b"\xff\xd8\xff\xe0")),
    Case("404: image of another session's question", "PUT", S + "/{future}/questions/{started_question}/image", 404, "question_not_found",
         "questions", _image(b"\xff\xd8\xff\xe0")),
    Case("404: access code", "POST", "/api/v1/ops/candidates/{unknown}/access-code", 404, "candidate_not_found", "candidates"),
    Case("404: sitting events", "GET", "/api/v1/ops/sittings/{unknown}/events", 404, "sitting_not_found", "sessions"),
    Case("404: own sitting", "GET", "/api/v1/candidate/sittings/{unknown}", 404, "sitting_not_found", "candidate", as_candidate=True),
    Case("404: practice attempt", "POST", "/api/v1/candidate/practice/{unknown}/attempts", 404, "session_not_found", "candidate", as_candidate=True),
    Case("409: formal is not practice", "POST", "/api/v1/candidate/practice/{future}/attempts", 409, "not_practice", "candidate", as_candidate=True),
    # --- windows --------------------------------------------------------------------------------------------
    Case("order: ends before starts", "POST", E + "/{exam}/sessions", 422, "window_order", "sessions",
         _json({**FORMAL, **window(LATER + 12 * HOUR, starts=timedelta(minutes=20), ends=timedelta(minutes=10))})),
    Case("order: ends at starts", "POST", E + "/{exam}/sessions", 422, "window_order", "sessions",
         _json({**FORMAL, **window(LATER + 12 * HOUR, starts=timedelta(minutes=20), ends=timedelta(minutes=20))})),
    Case("order: deadline before end", "POST", E + "/{exam}/sessions", 422, "window_order", "sessions",
         _json({**FORMAL, **window(LATER + 12 * HOUR, deadline=timedelta(minutes=30))})),
    Case("order: waiting after start", "POST", E + "/{exam}/sessions", 422, "window_order", "sessions",
         _json({**FORMAL, **window(LATER + 12 * HOUR, starts=-timedelta(minutes=5))})),
    Case("order: patch ends before starts", "PATCH", S + "/{future}", 422, "window_order", "sessions",
         _json({"answer_ends_at": (FUTURE + timedelta(minutes=5)).isoformat()})),
    Case("kind: practice with times", "POST", E + "/{exam}/sessions", 422, "session_kind_fields", "sessions",
         _json({**PRACTICE, "waiting_opens_at": (LATER + 12 * HOUR).isoformat()})),
    Case("kind: formal with durations", "POST", E + "/{exam}/sessions", 422, "session_kind_fields", "sessions",
         _json({**FORMAL, **window(LATER + 12 * HOUR), "answer_seconds": 600})),
    Case("kind: formal missing deadline", "POST", E + "/{exam}/sessions", 422, "session_kind_fields", "sessions",
         _json({**FORMAL, **{k: v for k, v in window(LATER + 12 * HOUR).items() if k != "upload_deadline"}})),
    Case("kind: patch practice with a time", "PATCH", S + "/{practice}", 422, "session_kind_fields", "sessions",
         _json({"answer_starts_at": (LATER + 12 * HOUR).isoformat()})),
    Case("overlap: inside another", "POST", E + "/{exam}/sessions", 409, "session_overlap", "sessions", _json({**FORMAL, **window(FUTURE + timedelta(minutes=5))})),
    Case("overlap: around another", "POST", E + "/{exam}/sessions", 409, "session_overlap", "sessions",
         _json({**FORMAL, **window(FUTURE - HOUR, ends=3 * HOUR, deadline=4 * HOUR)})),
    Case("overlap: with a started one", "POST", E + "/{exam}/sessions", 409, "session_overlap", "sessions",
         _json({**FORMAL, **window(STARTED + timedelta(minutes=30))})),
    Case("overlap: moved onto another", "PATCH", S + "/{later}", 409, "session_overlap", "sessions", _json(window(FUTURE + timedelta(minutes=1)))),
    Case("confirm: reversed", "POST", E, 422, "confirm_window_order", "exams", _json(_extra(EXAM, confirm_closes_at="2026-05-01T08:00:00"))),
    Case("confirm: empty", "POST", E, 422, "confirm_window_order", "exams", _json(_extra(EXAM, confirm_closes_at=EXAM["confirm_opens_at"]))),
    Case("confirm: patch closes first", "PATCH", E + "/{exam}", 422, "confirm_window_order", "exams", _json({"confirm_closes_at": "2026-05-31T08:00:00"})),
    Case("timezone: unknown", "POST", E, 422, "validation_error", "exams", _json(_extra(EXAM, timezone="Mars/Olympus_Mons"))),
    Case("timezone: patch unknown", "PATCH", E + "/{exam}", 422, "validation_error", "exams", _json({"timezone": "Asia/Beijing"})),
    # --- images and frozen sessions -----------------------------------------------------------------------------
    Case("image: text", "PUT", S + "/{future}/questions/{question}/image", 422, "bad_image", "questions", _image(b"just some text, not a picture")),
    Case("image: gif", "PUT", S + "/{future}/questions/{question}/image", 422, "bad_image", "questions", _image(b"GIF89a" + b"\x00" * 32)),
    Case("image: empty", "PUT", S + "/{future}/questions/{question}/image", 422, "bad_image", "questions", _image(b"")),
    Case("started: move times", "PATCH", S + "/{started}", 409, "session_started", "sessions", _json({"upload_deadline": (STARTED + 5 * HOUR).isoformat()})),
    Case("started: add question", "POST", S + "/{started}/questions", 409, "session_started", "questions", _json({"text": "迟到的题"})),
    Case("started: edit question", "PATCH", S + "/{started}/questions/{started_question}", 409, "session_started", "questions", _json({"text": "改过的题"})),
    Case("edit question: empty text", "PATCH", S + "/{future}/questions/{question}", 422, "validation_error", "questions", _json({"text": ""})),
    Case("404: edit another session's question", "PATCH", S + "/{future}/questions/{started_question}", 404, "question_not_found", "questions", _json({"text": "题"})),
    Case("started: set image", "PUT", S + "/{started}/questions/{started_question}/image", 409, "session_started", "questions",
         _image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)),
    Case("started: moved into the past", "PATCH", S + "/{future}", 409, "session_started", "sessions",
         _json({"waiting_opens_at": (STARTED - timedelta(minutes=30)).isoformat(), "answer_starts_at": (STARTED + 2 * HOUR).isoformat(),
                "answer_ends_at": (STARTED + 3 * HOUR).isoformat()})),  # fmt: skip
]


async def _snapshot(w: World, watch: str) -> list[Any]:
    reads = [(url, w.candidate if watch == "candidate" else w.ops) for url in WATCH[watch]]
    reads.append(("/api/v1/ops/audit?limit=1000", w.ops))
    return [await w.api.ok("GET", w.url(url), token) for url, token in reads]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
async def test_bad_input_is_refused_and_changes_nothing(world: World, case: Case) -> None:
    before = await _snapshot(world, case.watch)
    token = world.candidate if case.as_candidate else world.device if case.as_device else world.ops
    response = await world.api.request(case.method, world.url(case.url), token, **case.kwargs())
    assert (response.status_code, response.json()["error"]["code"]) == (case.status, case.code), response.text
    error = response.json()["error"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"]), error  # zh-CN
    assert error["message_en"] and error["message_en"].isascii(), error
    assert await _snapshot(world, case.watch) == before


async def test_touching_sessions_are_allowed(api: Api) -> None:
    """One session may open exactly when another's answering ends (a window is [waiting opens, answer ends))."""
    ops = await api.staff()
    exam = await api.exam(ops)
    await api.session(ops, exam["id"], "formal", title="上午", **window(FUTURE))
    ends = FUTURE + timedelta(minutes=40)
    await api.session(ops, exam["id"], "formal", title="紧接着", **window(ends))
    before = FUTURE - timedelta(minutes=40)
    await api.session(ops, exam["id"], "mock", title="之前", **window(before))  # its answering ends as "上午" opens
    clash = await api.request("POST", f"/api/v1/ops/exams/{exam['id']}/sessions", ops, json={**FORMAL, **window(ends - timedelta(seconds=1))})
    assert (clash.status_code, clash.json()["error"]["code"]) == (409, "session_overlap")
    titles = [s["title"] for s in await api.ok("GET", f"/api/v1/ops/exams/{exam['id']}/sessions", ops)]
    assert titles == ["之前", "上午", "紧接着"]


async def test_a_staff_username_taken_changes_nothing(api: Api) -> None:
    ops = await api.staff(username="taken")
    body = {"username": "taken", "display_name": "重复", "role": "ops", "password": PASSWORD}
    before = await api.ok("GET", "/api/v1/ops/staff", ops)
    response = await api.request("POST", "/api/v1/ops/staff", ops, json=body)
    assert (response.status_code, response.json()["error"]["code"]) == (409, "username_taken")
    assert await api.ok("GET", "/api/v1/ops/staff", ops) == before
