"""Staff are scoped to exams: ops read every exam, a reviewer only the exams ops assigned to it. Every operation a
reviewer may call (taken from the OpenAPI `x-roles`) has a row here, called as the assigned reviewer (its answer), as a
reviewer assigned elsewhere (404: the row is not found) and as ops (its answer); lists leave the other exams out.
Then the assignments themselves: the ops API (audited, idempotent) and `dualcam staff assign|unassign`."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from app.db import transaction
from app.models import Decision, DecisionStatus, DeviceRole, Flag, FlagSource, Outcome, StaffRole
from tests.conftest import T0
from tests.support.api import own_app, Api, SchemaChecker
from tests.support.face import candidate_with_photo, face_models_fixture, photo, selfie  # noqa: F401  (face_models)

pytestmark = pytest.mark.anyio

V1 = "/api/v1"
ASSIGNED, ELSEWHERE, OPS = "assigned reviewer", "reviewer of another exam", "ops"
# Reviewer-callable operations that read or change nothing of an exam.
NOT_EXAM_SCOPED = {"POST /api/v1/auth/logout", "GET /api/v1/ops/review/reason-codes"}

Rows = Callable[[Any], list[str]]


@dataclass
class World:
    api: Api
    tokens: dict[str, str]
    ids: dict[str, str]  # path parameter → id in the exam under test; "name:caller" where one caller needs its own


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    not_found: str  # the error code the reviewer of another exam gets
    json: dict[str, Any] | None = None
    query: dict[str, str] = field(default_factory=dict)
    rows: Rows | None = None  # for lists: the ids in the answer; the exam under test's row must be absent elsewhere
    row: str = ""  # the World.ids key of the row a list shows
    # What the assigned reviewer and ops get: past the scope, a rule of the sitting may still answer (a review that
    # is not open yet), which shows the row was found.
    answer: tuple[int, str | None] = (200, None)


def _ids(body: Any) -> list[str]:
    return [item["id"] for item in body]


TABLE: list[Op] = [
    Op("GET", f"{V1}/ops/exams", "", rows=_ids, row="exam_id"),
    Op("GET", f"{V1}/ops/exams/{{exam_id}}", "exam_not_found"),
    Op("GET", f"{V1}/ops/exams/{{exam_id}}/notices", "exam_not_found"),
    Op("GET", f"{V1}/ops/exams/{{exam_id}}/sessions", "exam_not_found"),
    Op("GET", f"{V1}/ops/exams/{{exam_id}}/candidates", "exam_not_found"),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}", "session_not_found"),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/status", "session_not_found"),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/dashboard", "session_not_found"),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/sittings", "session_not_found"),
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/events", "sitting_not_found"),
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/recordings", "sitting_not_found"),
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/flags", "sitting_not_found"),
    Op("GET", f"{V1}/ops/sessions/{{session_id}}/review-queue", "session_not_found"),
    Op("GET", f"{V1}/ops/face-reviews", "", rows=_ids, row="review_id"),
    Op("GET", f"{V1}/ops/face-reviews", "", query={"status": "all"}, rows=_ids, row="review_id"),
    Op("GET", f"{V1}/ops/face-reviews/{{review_id}}", "face_review_not_found"),
    Op("POST", f"{V1}/ops/face-reviews/{{review_id}}/decision", "face_review_not_found", json={"decision": "approve", "note": "一致"}),
    Op("GET", f"{V1}/ops/face-checks/{{check_id}}/image", "face_check_not_found"),
    Op("GET", f"{V1}/ops/candidates/{{candidate_id}}/id-photo", "candidate_not_found"),
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/review", "sitting_not_found"),
    # The answer window has not ended: the sheet's question and its image are not shown yet, to anyone.
    Op("GET", f"{V1}/ops/sittings/{{sitting_id}}/questions/{{question_id}}/image", "sitting_not_found", answer=(404, "question_not_found")),
    Op("POST", f"{V1}/ops/sittings/{{sitting_id}}/claim", "sitting_not_found"),  # ops claim another sitting
    Op("DELETE", f"{V1}/ops/sittings/{{sitting_id}}/claim", "sitting_not_found", answer=(204, None)),
    Op("PUT", f"{V1}/ops/flags/{{flag_id}}/verdict", "flag_not_found", json={"verdict": "dismissed", "note": "误报"}),
    Op("POST", f"{V1}/ops/sittings/{{sitting_id}}/incidents", "sitting_not_found", json={"offset_s": 5, "reason_code": "other"}, answer=(409, "review_not_open")),
    Op("POST", f"{V1}/ops/sittings/{{sitting_id}}/decisions", "sitting_not_found", json={"outcome": "clean"}, answer=(409, "review_not_open")),
    Op("POST", f"{V1}/ops/decisions/{{decision_id}}/second", "decision_not_found", json={"agrees": True}),  # ops second another one
]
CALLERS = (ELSEWHERE, ASSIGNED, OPS)  # in this order: the decision is refused elsewhere before it is taken


def test_every_reviewer_operation_is_in_the_table() -> None:
    """A route a reviewer may call is either exam-scoped (a row above) or named as not; a new one fails here."""
    schema = create_app(Settings(env="test")).openapi()
    reviewer_ops = {f"{m.upper()} {p}" for p, ops in schema["paths"].items() for m, o in ops.items() if "reviewer" in o["x-roles"]}
    covered = {f"{op.method} {op.path}" for op in TABLE}
    assert sorted(reviewer_ops - covered - NOT_EXAM_SCOPED) == [], "reviewer-callable operations without a row in TABLE"
    assert sorted((covered | NOT_EXAM_SCOPED) - reviewer_ops) == [], "rows for operations reviewers cannot call (or that are gone)"


# --- the world: an exam with every kind of row, its reviewer, and a reviewer of another exam -----------------------


async def _staff_id(api: Api, ops: str, username: str) -> str:
    (found,) = [s["id"] for s in await api.ok("GET", f"{V1}/ops/staff", ops) if s["username"] == username]
    return found


async def _review(api: Api, ops: str, exam_id: str, seq: int) -> tuple[dict[str, Any], str]:
    """A candidate with an imported ID photo whose one failed selfie (another person) opened a manual review."""
    row, token = await candidate_with_photo(api, ops, exam_id, seq=seq, id_photo="person_a_1")
    result = (await selfie(api, token, photo("impostor_1"))).json()
    assert result["review_pending"] is True, result
    return row, token


async def _seed(api: Api) -> World:
    ops = await api.staff(StaffRole.ops, "scope-ops")
    exam = await api.exam(ops, title="本场考试")
    other_exam = await api.exam(ops, title="另一场考试")
    opens = T0 + timedelta(days=1)
    session = await api.timed_session(ops, exam["id"], opens, opens + timedelta(minutes=10), opens + timedelta(minutes=40), opens + timedelta(hours=3))
    await api.ok("POST", f"{V1}/ops/exams/{exam['id']}/notices", ops, status=201, json={"title": "须知", "body": "请充电"})
    question = await api.question(ops, session["id"], "保密题")
    row, token = await _review(api, ops, exam["id"], seq=1)
    second, second_token = await _review(api, ops, exam["id"], seq=2)
    await _review(api, ops, other_exam["id"], seq=3)
    await api.confirm(token)
    sitting = await api.sitting_of(token, session["id"])
    main = await api.device(token, sitting["id"], "main")
    await api.ok("POST", f"{V1}/device/events", main, status=204, json={"kind": "battery_low", "details": {"level": 15}})
    await api.confirm(second_token)
    other_sitting = await api.sitting_of(second_token, session["id"])
    reviews = {r["candidate_id"]: r["id"] for r in await api.ok("GET", f"{V1}/ops/face-reviews", ops)}
    detail = await api.ok("GET", f"{V1}/ops/face-reviews/{reviews[row['candidate_id']]}", ops)
    tokens = {
        ASSIGNED: await api.reviewer(ops, exam["id"], username="scope-assigned"),
        ELSEWHERE: await api.reviewer(ops, other_exam["id"], username="scope-elsewhere"),
        OPS: ops,
    }
    flag_id, decisions = await _review_rows(api, sitting["id"], other_sitting["id"], decided_by=await _staff_id(api, ops, "scope-elsewhere"))
    return World(
        api=api,
        tokens=tokens,
        ids={
            "exam_id": exam["id"],
            "session_id": session["id"],
            "question_id": question["id"],
            "sitting_id": sitting["id"],
            "candidate_id": row["candidate_id"],
            "review_id": detail["id"],
            "review_id:ops": reviews[second["candidate_id"]],  # ops decide another review: the assigned reviewer decided the first
            "check_id": detail["attempts"][0]["image_url"].split("/")[-2],  # /ops/face-checks/{id}/image
            "other_exam_id": other_exam["id"],
            "sitting_id:ops": other_sitting["id"],
            "flag_id": flag_id,
            "decision_id": decisions[0],
            "decision_id:ops": decisions[1],
        },
    )


async def _review_rows(api: Api, sitting_id: str, other_sitting_id: str, *, decided_by: str) -> tuple[str, list[str]]:
    """A flag, and a violation awaiting its second look on each sitting: rows no sitting of a session that has not
    started would have yet, written as the analysis and a first reviewer would write them."""
    now = api.clock.now()
    async with transaction(api.app.state.sessionmaker) as db:
        flag = Flag(sitting_id=uuid.UUID(sitting_id), origin="scope:1", kind="no_face", role=DeviceRole.main, source=FlagSource.recording,
                    start_s=10, end_s=20, started_at=now, ended_at=now, value=None, detail={}, created_at=now)  # fmt: skip
        found = [
            Decision(sitting_id=uuid.UUID(s), version=1, outcome=Outcome.violation, reason_codes=["other_person"], status=DecisionStatus.awaiting_second,
                     decided_by=uuid.UUID(decided_by), decided_at=now)  # fmt: skip
            for s in (sitting_id, other_sitting_id)
        ]
        db.add_all([flag, *found])
        await db.flush()
        return str(flag.id), [str(d.id) for d in found]


@pytest.fixture(scope="module")
async def world(
    database_template: str | Path, tmp_path_factory: pytest.TempPathFactory, schema_checker: SchemaChecker, face_models: Path
) -> AsyncIterator[World]:
    """One seeded app for the whole table (the face reviews need real face checks: a few seconds)."""
    directory = tmp_path_factory.mktemp("scope")
    async with own_app(
        database_template, directory, schema_checker,
        face_model_dir=face_models, face_pack="sface", face_identity_max_failures=1,  # one failed selfie opens a manual review
    ) as api:
        yield await _seed(api)


async def _call(w: World, op: Op, caller: str) -> httpx.Response:
    names = re.findall(r"\{(\w+)\}", op.path)
    url = op.path.format(**{n: w.ids.get(f"{n}:{caller}", w.ids[n]) for n in names})
    return await w.api.request(op.method, url, w.tokens[caller], params=op.query, json=op.json)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("op", [pytest.param(op, id=f"{op.method} {op.path}{''.join(f'?{k}={v}' for k, v in op.query.items())}") for op in TABLE])
async def test_a_reviewer_reads_only_its_exams(world: World, op: Op, caller: str) -> None:
    response = await _call(world, op, caller)
    if op.rows is not None:
        assert response.status_code == 200, response.text
        shown = op.rows(response.json())
        assert (world.ids[op.row] in shown) is (caller != ELSEWHERE), shown
    elif caller == ELSEWHERE:
        assert (response.status_code, response.json()["error"]["code"]) == (404, op.not_found)
    else:
        code = response.json()["error"]["code"] if response.status_code >= 400 else None
        assert (response.status_code, code) == op.answer, response.text


async def test_lists_show_a_reviewer_its_own_exams_rows(world: World) -> None:
    elsewhere = world.tokens[ELSEWHERE]
    assert _ids(await world.api.ok("GET", f"{V1}/ops/exams", elsewhere)) == [world.ids["other_exam_id"]]
    assert len(_ids(await world.api.ok("GET", f"{V1}/ops/exams", world.tokens[OPS]))) == 2
    # Filtering the queue by an exam outside the scope finds nothing (not an error: the filter is the caller's).
    filtered = await world.api.ok("GET", f"{V1}/ops/face-reviews", elsewhere, params={"exam_id": world.ids["exam_id"], "status": "all"})
    assert filtered == []


# --- assignments -----------------------------------------------------------------------------------------------------


async def test_ops_assign_and_unassign_a_reviewer_audited(api: Api) -> None:
    ops = await api.staff(username="assigning-ops")
    exam = await api.exam(ops)
    reviewer = await api.reviewer(ops, username="li.review")
    staff_id = await _staff_id(api, ops, "li.review")
    url = f"{V1}/ops/exams/{exam['id']}/staff/{staff_id}"
    refused = await api.request("GET", f"{V1}/ops/exams/{exam['id']}", reviewer)
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "exam_not_found")

    assigned = await api.ok("PUT", url, ops)
    assert assigned["exam_id"] == exam["id"] and assigned["staff"]["username"] == "li.review"
    assert assigned["assigned_by"] == await _staff_id(api, ops, "assigning-ops")
    api.clock.advance(minutes=5)
    assert await api.ok("PUT", url, ops) == assigned  # idempotent: the first assignment stands
    assert await api.ok("GET", f"{V1}/ops/exams/{exam['id']}/staff", ops) == [assigned]
    assert (await api.ok("GET", f"{V1}/ops/exams/{exam['id']}", reviewer))["id"] == exam["id"]  # the same token, now allowed

    await api.ok("DELETE", url, ops, status=204)
    gone = await api.request("GET", f"{V1}/ops/exams/{exam['id']}/sessions", reviewer)
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "exam_not_found")
    assert await api.ok("GET", f"{V1}/ops/exams", reviewer) == []
    again = await api.request("DELETE", url, ops)
    assert (again.status_code, again.json()["error"]["code"]) == (404, "staff_not_assigned")

    audit = await api.ok("GET", f"{V1}/ops/audit", ops, params={"target_id": staff_id})
    assert [(e["action"], e["details"]["exam_id"]) for e in audit if e["action"].startswith("staff.exam")] == [
        ("staff.exam.unassign", exam["id"]),
        ("staff.exam.assign", exam["id"]),
    ]


@pytest.mark.parametrize(
    ("target", "status", "code"),
    [("ops", 409, "staff_sees_all_exams"), ("unknown staff", 404, "staff_not_found"), ("unknown exam", 404, "exam_not_found")],
)
async def test_what_cannot_be_assigned(api: Api, target: str, status: int, code: str) -> None:
    ops = await api.staff(username="assigning-ops")
    exam = await api.exam(ops)
    await api.reviewer(ops, username="rev")
    staff_ids = {"ops": await _staff_id(api, ops, "assigning-ops"), "unknown staff": str(uuid.uuid4()), "unknown exam": await _staff_id(api, ops, "rev")}
    staff_id = staff_ids[target]
    exam_id = str(uuid.uuid4()) if target == "unknown exam" else exam["id"]
    response = await api.request("PUT", f"{V1}/ops/exams/{exam_id}/staff/{staff_id}", ops)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert await api.ok("GET", f"{V1}/ops/exams/{exam['id']}/staff", ops) == []
    assert [e for e in await api.ok("GET", f"{V1}/ops/audit", ops) if e["action"].startswith("staff.exam")] == []

