"""The role matrix: an explicit table of who may call every operation of the OpenAPI schema, checked against the
published `x-roles` and then enforced by calling every endpoint with every role over one seeded world."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import AsyncIterator, Callable, Set
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.models import StaffRole
from app.services.sitting import sittings
from app.services.sitting.lifecycle import SittingState
from app.services.sitting.facts import mark_ready
from tests.conftest import T0
from tests.support.api import own_app, PASSWORD, Api, SchemaChecker, id_number, phone

pytestmark = pytest.mark.anyio

ANON, OPS, REVIEWER, GRADER, CANDIDATE, MAIN, AUX = "anonymous", "ops", "reviewer", "grader", "candidate", "device_main", "device_aux"
ROLES = (ANON, OPS, REVIEWER, GRADER, CANDIDATE, MAIN, AUX)
ANYONE = frozenset(ROLES)
SIGNED_IN = ANYONE - {ANON}
STAFF = frozenset({OPS, REVIEWER})
DEVICES = frozenset({MAIN, AUX})
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class World:
    api: Api
    tokens: dict[str, str]
    spare: dict[str, str]  # a second token per role, for log-out (which revokes the token it carries)
    ids: dict[str, str]
    logins: dict[str, dict[str, str]]
    seq: itertools.count[int] = field(default_factory=lambda: itertools.count(100))


Body = Callable[[World], dict[str, Any]]


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    roles: Set[str]
    status: int = 200  # what an allowed role gets with the request below
    json: Body | None = None
    files: Body | None = None
    ids: dict[str, str] = field(default_factory=dict)  # path param → key in World.ids, where the default won't do
    unknown: tuple[str, ...] = ()  # path params given an unknown (valid) UUID


def _registration(w: World) -> dict[str, Any]:
    n = next(w.seq)
    return {"name": "自注册", "id_number": id_number(n), "phone": phone(n), "password": PASSWORD}


def _roster(w: World) -> dict[str, Any]:
    n = next(w.seq)
    return {"csv_file": ("roster.csv", f"姓名,身份证号,手机号\n李四,{id_number(n)},{phone(n)}\n".encode(), "text/csv")}


V1 = "/api/v1"
RUBRIC = {"items": [{"key": "content", "label": "内容", "max_points": 10, "step": 0.5}], "graders_per_sitting": 1}
TABLE: list[Op] = [
    Op("GET", "/healthz", ANYONE),
    Op("GET", "/readyz", ANYONE),
    Op("GET", "/metrics", {OPS}),
    Op("GET", f"{V1}/time", ANYONE),
    Op("POST", f"{V1}/auth/staff/login", ANYONE, json=lambda w: w.logins["staff"]),
    Op("POST", f"{V1}/auth/candidate/login", ANYONE, json=lambda w: w.logins["candidate"]),
    Op("POST", f"{V1}/auth/logout", SIGNED_IN, 204),
    Op("POST", f"{V1}/exams/{{exam_id}}/registrations", ANYONE, 201, json=_registration, ids={"exam_id": "open_exam"}),
    Op("PUT", f"{V1}/candidate/password", {CANDIDATE}, 204, json=lambda w: {"current": w.logins["own"]["secret"], "new": "N3w-password"}),
    Op("GET", f"{V1}/ops/exams", STAFF),
    Op("POST", f"{V1}/ops/exams", {OPS}, 201, json=lambda w: {"title": "t", "organizer": "o", "province": "山东", "identity_category": "其他",
                                                             "confirm_opens_at": "2026-06-01T08:00:00", "confirm_closes_at": "2026-06-02T08:00:00"}),
    Op("GET", f"{V1}/ops/exams/{{exam_id}}", STAFF),
    Op("PATCH", f"{V1}/ops/exams/{{exam_id}}", {OPS}, json=lambda w: {"support_hours": "08:00-20:00"}),
    Op("POST", f"{V1}/ops/exams/{{exam_id}}/notices", {OPS}, 201, json=lambda w: {"title": "通知", "body": "内容"}),
    Op("GET", f"{V1}/ops/exams/{{exam_id}}/notices", STAFF),
    Op("DELETE", f"{V1}/ops/notices/{{notice_id}}", {OPS}, 404, unknown=("notice_id",)),
    Op("POST", f"{V1}/ops/exams/{{exam_id}}/sessions", {OPS}, 201,
       json=lambda w: {"kind": "practice", "title": "p", "waiting_seconds": 60, "answer_seconds": 60, "upload_seconds": 60}),
    Op("GET", f"{V1}/ops/exams/{{exam_id}}/sessions", STAFF),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}", STAFF),
    Op("PATCH", f"{V1}/ops/sessions/{{session_id}}", {OPS}, json=lambda w: {"title": "formal session"}),
    Op("POST", f"{V1}/ops/sessions/{{session_id}}/questions", {OPS}, 201, json=lambda w: {"text": "再加一题"}),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/questions", {OPS}),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/questions/{{question_id}}/image", {OPS}, ids={"session_id": "practice"}),
    Op("PATCH", f"{V1}/ops/sessions/{{session_id}}/questions/{{question_id}}", {OPS}, json=lambda w: {"text": "练习题：自我介绍"}, ids={"session_id": "practice"}),
    Op("PUT", f"{V1}/ops/sessions/{{session_id}}/questions/{{question_id}}/image", {OPS},
       files=lambda w: {"image": ("q.png", PNG, "image/png")}, ids={"session_id": "practice"}),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/status", STAFF),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/dashboard", STAFF),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/sittings", STAFF),
    Op("POST", f"{V1}/ops/exams/{{exam_id}}/roster", {OPS}, 201, files=_roster),
    Op("GET", f"{V1}/ops/exams/{{exam_id}}/candidates", STAFF),
    Op("POST", f"{V1}/ops/candidates/{{candidate_id}}/access-code", {OPS}),
    Op("GET", f"{V1}/ops/staff", {OPS}),
    Op("POST", f"{V1}/ops/staff", {OPS}, 201,
       json=lambda w: {"username": f"staff{next(w.seq)}", "display_name": "审核", "role": "reviewer", "password": PASSWORD}),
    Op("GET", f"{V1}/ops/exams/{{exam_id}}/staff", {OPS}),
    Op("PUT", f"{V1}/ops/exams/{{exam_id}}/staff/{{staff_id}}", {OPS}, ids={"staff_id": "reviewer_id"}),  # again: idempotent
    Op("DELETE", f"{V1}/ops/exams/{{exam_id}}/staff/{{staff_id}}", {OPS}, 204, ids={"staff_id": "leaving_reviewer_id"}),
    Op("GET", f"{V1}/ops/audit", {OPS}),
    Op("GET", f"{V1}/candidate/me", {CANDIDATE}),
    Op("GET", f"{V1}/candidate/exam", {CANDIDATE}),
    Op("GET", f"{V1}/candidate/notices", {CANDIDATE}),
    Op("POST", f"{V1}/candidate/confirmation", {CANDIDATE},
       json=lambda w: {"identity_category": "其他", "province": "山东", "accept_rules": True}),
    Op("GET", f"{V1}/candidate/sessions", {CANDIDATE}),
    # The candidate's practice attempt is still open (answering): starting again answers it, 200.
    Op("POST", f"{V1}/candidate/practice/{{session_id}}/attempts", {CANDIDATE}, 200, ids={"session_id": "practice"}),
    Op("GET", f"{V1}/candidate/sittings/{{sitting_id}}", {CANDIDATE}),
    Op("GET", f"{V1}/candidate/sittings/{{sitting_id}}/questions", {CANDIDATE}),
    Op("GET", f"{V1}/candidate/sittings/{{sitting_id}}/questions/{{question_id}}/image", {CANDIDATE}),
    # On the formal sitting: a new main phone there supersedes nobody the other rows rely on.
    Op("POST", f"{V1}/candidate/sittings/{{sitting_id}}/devices", {CANDIDATE}, 201, json=lambda w: {"role": "main"},
       ids={"sitting_id": "formal_sitting"}),
    Op("GET", f"{V1}/device/sitting", DEVICES),
    Op("GET", f"{V1}/device/questions", DEVICES),
    Op("GET", f"{V1}/device/questions/{{question_id}}/image", DEVICES),
    Op("POST", f"{V1}/device/pairing", {MAIN}, 201),
    Op("POST", f"{V1}/pairing/claim", ANYONE, 404, json=lambda w: {"token": "pair_unknown-token"}),
    Op("POST", f"{V1}/device/events", DEVICES, 204, json=lambda w: {"kind": "battery_low", "details": {"level": 15}}),
    Op("POST", f"{V1}/device/stop", {MAIN}),
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/events", STAFF),
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/recordings", STAFF),
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/flags", STAFF),
    Op("POST", f"{V1}/ops/sittings/{{sitting_id}}/flags/reanalyze", {OPS}, 202),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/review-queue", STAFF),
    Op("GET", f"{V1}/ops/review/reason-codes", STAFF),
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/review", STAFF),
    # Answering in this world: the sheet shows no question yet, nor its image.
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/questions/{{question_id}}/image", STAFF, 404),
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/audit", {OPS}),
    # Review writes on unknown rows: past authorization, 404 (a claim by one role would refuse the next one's).
    Op("POST", f"{V1}/ops/sittings/{{sitting_id}}/claim", STAFF, 404, unknown=("sitting_id",)),
    Op("DELETE", f"{V1}/ops/sittings/{{sitting_id}}/claim", STAFF, 404, unknown=("sitting_id",)),
    Op("PUT", f"{V1}/ops/flags/{{flag_id}}/verdict", STAFF, 404, json=lambda w: {"verdict": "dismissed"}, unknown=("flag_id",)),
    Op("POST", f"{V1}/ops/sittings/{{sitting_id}}/incidents", STAFF, 404, json=lambda w: {"offset_s": 1, "reason_code": "other"}, unknown=("sitting_id",)),
    Op("POST", f"{V1}/ops/sittings/{{sitting_id}}/decisions", STAFF, 404, json=lambda w: {"outcome": "clean"}, unknown=("sitting_id",)),
    Op("POST", f"{V1}/ops/decisions/{{decision_id}}/second", STAFF, 404, json=lambda w: {"agrees": True}, unknown=("decision_id",)),
    Op("POST", f"{V1}/ops/sittings/{{sitting_id}}/reopen", {OPS}, 404, json=lambda w: {"note": "申诉"}, unknown=("sitting_id",)),
    # A signed link is the authorization (no token): without its query it is a 422 for everyone.
    Op("GET", f"{V1}/recordings/{{recording_id}}/content", ANYONE, 422, unknown=("recording_id",)),
    Op("GET", f"{V1}/recordings/{{recording_id}}/original", ANYONE, 422, unknown=("recording_id",)),
    # Face: the world runs without face models, so the picture routes answer 503 past authorization.
    Op("GET", f"{V1}/candidate/identity", {CANDIDATE}),
    Op("PUT", f"{V1}/candidate/id-photo", {CANDIDATE}, 503, files=lambda w: {"image": ("id.png", PNG, "image/png")}),
    Op("POST", f"{V1}/candidate/identity/selfie", {CANDIDATE}, 503, files=lambda w: {"image": ("me.png", PNG, "image/png")}),
    Op("POST", f"{V1}/device/face", {MAIN}, 503, files=lambda w: {"image": ("me.png", PNG, "image/png")}),
    Op("POST", f"{V1}/device/face/check", {MAIN}, 503, files=lambda w: {"image": ("me.png", PNG, "image/png")}),
    Op("GET", f"{V1}/ops/face-reviews", STAFF),
    Op("GET", f"{V1}/ops/face-reviews/{{review_id}}", STAFF, 404, unknown=("review_id",)),
    Op("POST", f"{V1}/ops/face-reviews/{{review_id}}/decision", STAFF, 404, json=lambda w: {"decision": "approve"}, unknown=("review_id",)),
    Op("GET", f"{V1}/ops/face-checks/{{check_id}}/image", STAFF, 404, unknown=("check_id",)),
    Op("GET", f"{V1}/ops/candidates/{{candidate_id}}/id-photo", STAFF, 409),  # the candidate has no ID photo
    # Grading: ops set it up on the formal session (its rubric is seeded); graders see only their own sheets.
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/grading", {OPS}),
    Op("PUT", f"{V1}/ops/sessions/{{session_id}}/grading", {OPS}, json=lambda w: RUBRIC),
    Op("PUT", f"{V1}/ops/sessions/{{session_id}}/graders/{{staff_id}}", {OPS}, ids={"staff_id": "grader_id"}),
    Op("DELETE", f"{V1}/ops/sessions/{{session_id}}/graders/{{staff_id}}", {OPS}, 404, ids={"staff_id": "reviewer_id"}),
    Op("POST", f"{V1}/ops/sessions/{{session_id}}/grading/assign", {OPS}),
    Op("PUT", f"{V1}/ops/sittings/{{sitting_id}}/score", {OPS}, json=lambda w: {"score": 5, "reason": "复议"}, ids={"sitting_id": "formal_sitting"}),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/results", {OPS}),
    # The formal sitting has not started: its row is pending, so publishing is refused past authorization.
    Op("POST", f"{V1}/ops/sessions/{{session_id}}/results/publish", {OPS}, 409, json=lambda w: {}),
    Op("POST", f"{V1}/ops/sessions/{{session_id}}/results/reopen", {OPS}, 409, json=lambda w: {"reason": "复核"}),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/results/versions", {OPS}),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/results/export", {OPS}),
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/report", {OPS}, ids={"sitting_id": "formal_sitting"}),
    Op("GET", f"{V1}/ops/exams/{{exam_id}}/conduct-rules", {OPS}),
    Op("PUT", f"{V1}/ops/exams/{{exam_id}}/conduct-rules", {OPS}, json=lambda w: {"rules": {"beauty_filter": "disqualify"}}),
    Op("GET", f"{V1}/grading/queue", {GRADER}),
    Op("GET", f"{V1}/grading/sheets/{{sheet_id}}", {GRADER}, 404, unknown=("sheet_id",)),
    Op("GET", f"{V1}/grading/sheets/{{sheet_id}}/questions/{{question_id}}/image", {GRADER}, 404, unknown=("sheet_id",)),
    Op("PUT", f"{V1}/grading/sheets/{{sheet_id}}", {GRADER}, 404, json=lambda w: {"scores": {}}, unknown=("sheet_id",)),
    Op("POST", f"{V1}/grading/sheets/{{sheet_id}}/submit", {GRADER}, 404, json=lambda w: {"scores": {}}, unknown=("sheet_id",)),
]
OPS_BY_KEY = {f"{op.method} {op.path}": op for op in TABLE}
PROTECTED = [op for op in TABLE if ANON not in op.roles]


def _published(roles: Set[str]) -> list[str]:
    return [ANON] if roles == ANYONE else sorted(roles)


def test_table_covers_exactly_the_schema_and_matches_x_roles() -> None:
    schema = create_app(Settings(env="test")).openapi()
    operations = {f"{m.upper()} {p}": o for p, ops in schema["paths"].items() for m, o in ops.items()}
    assert sorted(operations.keys() - OPS_BY_KEY.keys()) == [], "operations without a row in TABLE"
    assert sorted(OPS_BY_KEY.keys() - operations.keys()) == [], "rows in TABLE for operations that no longer exist"
    mismatched = {k: (o["x-roles"], _published(OPS_BY_KEY[k].roles)) for k, o in operations.items() if sorted(o["x-roles"]) != _published(OPS_BY_KEY[k].roles)}
    assert mismatched == {}


# --- the world every call runs against ---------------------------------------------------------------------


async def _logged_in(api: Api, identifier: str, secret: str) -> str:
    return (await api.ok("POST", f"{V1}/auth/candidate/login", json={"identifier": identifier, "secret": secret}))["token"]


async def _ready_attempt(api: Api, token: str, session_id: str) -> str:
    """A practice attempt, made ready by the readiness hook while waiting, so it is answering 15 s later."""
    attempt = await api.ok("POST", f"{V1}/candidate/practice/{session_id}/attempts", token, status=201)
    async with transaction(api.app.state.sessionmaker) as db:
        candidate_id = uuid.UUID((await api.ok("GET", f"{V1}/candidate/me", token))["id"])
        view = await sittings.load(db, sitting_id=uuid.UUID(attempt["id"]), candidate_id=candidate_id, now=api.clock.now())
        assert mark_ready(db, view=view, now=api.clock.now()) is SittingState.ready
    return attempt["id"]


async def _seed(api: Api) -> World:
    ops = await api.staff(StaffRole.ops, "roles-ops")
    exam = await api.exam(ops)
    open_exam = await api.exam(ops, title="开放注册", self_registration=True)
    opens = T0 + timedelta(days=1)
    formal = await api.timed_session(ops, exam["id"], opens, opens + timedelta(minutes=10), opens + timedelta(minutes=40), opens + timedelta(hours=3))
    practice = await api.session(ops, exam["id"], "practice", waiting_seconds=10, answer_seconds=3600, upload_seconds=3600)
    question = await api.question(ops, practice["id"], "练习题：自我介绍")
    await api.ok("PUT", f"{V1}/ops/sessions/{practice['id']}/questions/{question['id']}/image", ops, files={"image": ("q.png", PNG, "image/png")})
    await api.question(ops, formal["id"], "正式题")
    notice = await api.ok("POST", f"{V1}/ops/exams/{exam['id']}/notices", ops, status=201, json={"title": "须知", "body": "请充电"})
    own, other, spare = await api.roster(ops, exam["id"], [(f"考生{i}", id_number(i), phone(i)) for i in (1, 2, 3)])
    candidate = await _logged_in(api, id_number(1), own["access_code"])
    spare_candidate = await _logged_in(api, id_number(3), spare["access_code"])
    for token in (candidate, spare_candidate):
        await api.confirm(token)
    formal_sitting = await api.sitting_of(candidate, formal["id"])
    attempt, spare_attempt = [await _ready_attempt(api, t, practice["id"]) for t in (candidate, spare_candidate)]
    api.clock.advance(seconds=15)
    # The reviewers read this exam's rows only once assigned to it (a third one is there to be unassigned).
    reviewers = {name: await api.staff(StaffRole.reviewer, name) for name in ("roles-reviewer", "roles-reviewer-spare", "roles-leaving")}
    staff_ids = {s["username"]: s["id"] for s in await api.ok("GET", f"{V1}/ops/staff", ops)}
    for name in reviewers:
        await api.ok("PUT", f"{V1}/ops/exams/{exam['id']}/staff/{staff_ids[name]}", ops)
    graders = [await api.staff(StaffRole.grader, name) for name in ("roles-grader", "roles-grader-spare")]
    staff_ids = {s["username"]: s["id"] for s in await api.ok("GET", f"{V1}/ops/staff", ops)}
    await api.ok("PUT", f"{V1}/ops/sessions/{formal['id']}/grading", ops, json=RUBRIC)
    return World(
        api=api,
        tokens={
            OPS: ops,
            REVIEWER: reviewers["roles-reviewer"],
            GRADER: graders[0],
            CANDIDATE: candidate,
            MAIN: await api.device(candidate, attempt, "main"),
            AUX: await api.device(candidate, attempt, "aux"),
        },
        spare={
            OPS: await api.staff(StaffRole.ops),
            REVIEWER: reviewers["roles-reviewer-spare"],
            GRADER: graders[1],
            CANDIDATE: spare_candidate,
            MAIN: await api.device(spare_candidate, spare_attempt, "main"),
            AUX: await api.device(spare_candidate, spare_attempt, "aux"),
        },
        ids={
            "exam_id": exam["id"],
            "open_exam": open_exam["id"],
            "session_id": formal["id"],
            "practice": practice["id"],
            "question_id": question["id"],
            "candidate_id": other["candidate_id"],
            "notice_id": notice["id"],
            "sitting_id": attempt,
            "formal_sitting": formal_sitting["id"],
            "reviewer_id": staff_ids["roles-reviewer"],
            "leaving_reviewer_id": staff_ids["roles-leaving"],
            "grader_id": staff_ids["roles-grader"],
        },
        logins={
            "staff": {"username": "roles-ops", "password": PASSWORD},
            "candidate": {"identifier": id_number(3), "secret": spare["access_code"]},
            "own": {"identifier": id_number(1), "secret": own["access_code"]},
        },
    )


@pytest.fixture(scope="module")
async def world(database_template: str | Path, tmp_path_factory: pytest.TempPathFactory, schema_checker: SchemaChecker) -> AsyncIterator[World]:
    """One seeded app for the whole matrix (a fresh one per call would take minutes). Rows that change state
    are written so that no later row depends on what they changed (see TABLE)."""
    async with own_app(database_template, tmp_path_factory.mktemp("roles"), schema_checker) as api:
        yield await _seed(api)


async def _call(w: World, op: Op, token: str | None) -> httpx.Response:
    params = {name: str(uuid.uuid4()) if name in op.unknown else w.ids[op.ids.get(name, name)] for name in re.findall(r"\{(\w+)\}", op.path)}
    url = op.path.format(**params)
    kwargs: dict[str, Any] = {}
    if op.json:
        kwargs["json"] = op.json(w)
    if op.files:
        kwargs["files"] = op.files(w)
    return await w.api.request(op.method, url, token, **kwargs)


def _error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


MATRIX = [pytest.param(op, role, id=f"{op.method} {op.path} as {role}") for op in TABLE for role in ROLES]


@pytest.mark.parametrize(("op", "role"), MATRIX)
async def test_every_endpoint_with_every_role(world: World, op: Op, role: str) -> None:
    if role == ANON:
        token = None
    else:
        token = (world.spare if op.path.endswith("/auth/logout") else world.tokens)[role]
    response = await _call(world, op, token)
    if role in op.roles:
        assert response.status_code == op.status, response.text
    elif role == ANON:
        assert (response.status_code, _error_code(response)) == (401, "not_authenticated")
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        # The aux phone on a main-phone route gets a 403 that tells it why.
        expected = "main_device_only" if role == AUX and MAIN in op.roles else "forbidden"
        assert (response.status_code, _error_code(response)) == (403, expected)


@pytest.mark.parametrize("op", [pytest.param(op, id=f"{op.method} {op.path}") for op in PROTECTED])
async def test_a_garbage_token_is_an_invalid_token(world: World, op: Op) -> None:
    response = await _call(world, op, "dco_garbage-not-issued-by-us")
    assert (response.status_code, _error_code(response)) == (401, "invalid_token")
