"""Ops answers give every time with the exam's offset, like the candidate's do: a table over every ops GET route
(taken from the OpenAPI schema, so a new route needs a row), called on an exam in Asia/Shanghai (+08:00) and on one in
Asia/Urumqi (+06:00) that has a row of every kind with its times filled in. Staff accounts belong to no exam and stay
in UTC; the audit log is in the exam's offset for an exam's entries and in UTC for the others."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.main import create_app
from tests.support.api import PASSWORD, own_app, Api, SchemaChecker
from tests.support.face import candidate_with_photo, face_models_fixture, photo, selfie  # noqa: F401  (face_models)
from tests.support.media import webm
from tests.support.realtime import ENDS, move, scene, to_answering, to_ready
from tests.support.ws import next_message, phone, ws_client

pytestmark = pytest.mark.anyio

V1 = "/api/v1"
OFFSETS = {"Asia/Shanghai": "+08:00", "Asia/Urumqi": "+06:00"}
INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
TUS = {"Tus-Resumable": "1.0.0"}

# Every ops GET route that answers times of an exam, with the query it is called with.
EXAM_TIMES: list[tuple[str, dict[str, str]]] = [
    (f"{V1}/ops/exams", {}),
    (f"{V1}/ops/exams/{{exam_id}}", {}),
    (f"{V1}/ops/exams/{{exam_id}}/notices", {}),
    (f"{V1}/ops/exams/{{exam_id}}/sessions", {}),
    (f"{V1}/ops/exams/{{exam_id}}/candidates", {}),
    (f"{V1}/ops/exams/{{exam_id}}/staff", {}),
    (f"{V1}/ops/sessions/{{session_id}}", {}),
    (f"{V1}/ops/sessions/{{session_id}}/status", {}),
    (f"{V1}/ops/sessions/{{session_id}}/dashboard", {}),
    (f"{V1}/ops/sessions/{{session_id}}/sittings", {}),
    (f"{V1}/ops/sittings/{{sitting_id}}/events", {}),
    (f"{V1}/ops/sittings/{{sitting_id}}/recordings", {}),
    (f"{V1}/ops/sittings/{{sitting_id}}/flags", {}),
    (f"{V1}/ops/sittings/{{sitting_id}}/review", {}),
    (f"{V1}/ops/sittings/{{sitting_id}}/audit", {}),
    (f"{V1}/ops/face-reviews", {"status": "all"}),
    (f"{V1}/ops/face-reviews/{{review_id}}", {}),
    (f"{V1}/ops/sessions/{{session_id}}/grading", {}),
    (f"{V1}/ops/sessions/{{session_id}}/results", {}),
    (f"{V1}/ops/sessions/{{session_id}}/results/versions", {}),
    (f"{V1}/ops/sittings/{{sitting_id}}/report", {}),
]
UTC_ONLY = {f"{V1}/ops/staff"}  # staff accounts: no exam, so UTC
MIXED = {f"{V1}/ops/audit"}  # an exam's entries in its offset, the others in UTC
NO_TIMES = {
    f"{V1}/ops/sessions/{{session_id}}/questions",
    f"{V1}/ops/face-checks/{{check_id}}/image",  # a picture
    f"{V1}/ops/candidates/{{candidate_id}}/id-photo",  # a picture
    f"{V1}/ops/sittings/{{sitting_id}}/questions/{{question_id}}/image",  # a picture
    f"{V1}/ops/sessions/{{session_id}}/questions/{{question_id}}/image",  # a picture
    f"{V1}/ops/sessions/{{session_id}}/review-queue",  # risks and counts; the times are in each sitting's flags
    f"{V1}/ops/review/reason-codes",  # a fixed list
    f"{V1}/ops/exams/{{exam_id}}/conduct-rules",  # codes and consequences
    f"{V1}/ops/sessions/{{session_id}}/results/export",  # a file; its About sheet names the zone (tests/api/test_results.py)
}


def test_every_ops_get_route_is_in_the_table() -> None:
    schema = create_app(Settings(env="test")).openapi()
    gets = {path for path, operations in schema["paths"].items() if path.startswith(f"{V1}/ops/") and "get" in operations}
    covered = {path for path, _ in EXAM_TIMES} | UTC_ONLY | MIXED | NO_TIMES
    assert sorted(gets - covered) == [], "ops GET routes without a row"
    assert sorted(covered - gets) == [], "rows for routes that are gone"


def instants(body: Any) -> list[str]:
    """Every date-time string anywhere in a JSON answer."""
    if isinstance(body, dict):
        return [found for value in body.values() for found in instants(value)]
    if isinstance(body, list):
        return [found for value in body for found in instants(value)]
    return [body] if isinstance(body, str) and INSTANT.match(body) else []


# --- the world: one exam with every kind of row and time, in the zone under test ---------------------------------


@dataclass
class World:
    api: Api
    zone: str
    ops: str
    ids: dict[str, str]

    async def get(self, path: str, query: dict[str, str] | None = None) -> Any:
        url = path.format(**{name: self.ids[name] for name in re.findall(r"\{(\w+)\}", path)})
        return await self.api.ok("GET", url, self.ops, params=query or {})


async def _upload(api: Api, token: str, data: bytes) -> None:
    """The main phone's whole recording in one PATCH (what clients/common/uploader.js sends, in one piece)."""
    created = await api.request("POST", f"{V1}/uploads/", token, headers={**TUS, "Upload-Defer-Length": "1"})
    assert created.status_code == 201, created.text
    headers = {**TUS, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0", "Upload-Length": str(len(data))}
    sent = await api.request("PATCH", created.headers["Location"], token, headers=headers, content=data)
    assert sent.status_code == 204, sent.text


async def _seed(api: Api, zone: str) -> World:
    s = await scene(api, timezone=zone)
    seat = s.seat
    exam_id = s.exam["id"]
    await api.ok("POST", f"{V1}/ops/exams/{exam_id}/notices", s.ops, status=201, json={"title": "须知", "body": "请充电"})
    await api.reviewer(s.ops, exam_id, username=f"times-reviewer-{zone.split('/')[1].lower()}")
    review_row, review_token = await candidate_with_photo(api, s.ops, exam_id, seq=7, id_photo="person_a_1")
    assert (await selfie(api, review_token, photo("impostor_1"))).json()["review_pending"] is True
    # A phone's event stamped by its own clock in yet another offset: ops read it in the exam's.
    await api.ok("POST", f"{V1}/device/events", seat.main, status=204, json={"kind": "battery_low", "client_at": "2026-06-01T10:00:00+09:00", "details": {"level": 15}})
    async with ws_client(api.app) as client, phone(client, seat.main) as main, phone(client, seat.aux) as aux:
        await next_message(main)
        await next_message(aux)
        await to_ready(api, seat.sitting_id, main, aux)
        await to_answering(api, main, aux)
        await move(api, ENDS + timedelta(seconds=5), main, aux)
        await _upload(api, seat.main, webm(seconds=2.0))
    # A claim and a decision, as a reviewer leaves them: times in the review sheet and the sitting's audit.
    await api.ok("POST", f"{V1}/ops/sittings/{seat.sitting_id}/claim", s.ops)
    await api.ok("POST", f"{V1}/ops/sittings/{seat.sitting_id}/decisions", s.ops, status=201, json={"outcome": "suspicious", "note": "再看看"})
    # Grading set up and the results published: their times (plan, graders, publication) are the exam's too.
    grader = await api.ok("POST", f"{V1}/ops/staff", s.ops, status=201, json={"username": f"times-grader-{zone.split('/')[1].lower()}", "display_name": "评分员", "role": "grader", "password": PASSWORD})
    await api.ok("PUT", f"{V1}/ops/sessions/{s.session['id']}/grading", s.ops, json={"items": [{"key": "content", "label": "内容", "max_points": 10}]})
    await api.ok("PUT", f"{V1}/ops/sessions/{s.session['id']}/graders/{grader['id']}", s.ops)
    await api.ok("POST", f"{V1}/ops/sessions/{s.session['id']}/results/publish", s.ops, json={"allow_pending": True})
    (review,) = await api.ok("GET", f"{V1}/ops/face-reviews", s.ops)
    return World(
        api=api,
        zone=zone,
        ops=s.ops,
        ids={"exam_id": exam_id, "session_id": s.session["id"], "sitting_id": seat.sitting_id, "review_id": review["id"], "candidate_id": review_row["candidate_id"]},
    )


@pytest.fixture(scope="module", params=sorted(OFFSETS))
async def world(
    request: pytest.FixtureRequest, database_template: str | Path, tmp_path_factory: pytest.TempPathFactory, schema_checker: SchemaChecker, face_models: Path
) -> AsyncIterator[World]:
    async with own_app(
        database_template, tmp_path_factory.mktemp("times"), schema_checker,
        face_model_dir=face_models, face_pack="sface", face_identity_max_failures=1,  # one failed selfie opens a manual review
    ) as api:
        yield await _seed(api, request.param)


@pytest.mark.parametrize(("path", "query"), [pytest.param(path, query, id=path) for path, query in EXAM_TIMES])
async def test_an_exams_times_carry_its_offset(world: World, path: str, query: dict[str, str]) -> None:
    found = instants(await world.get(path, query))
    assert found, "the world should fill in a time here"
    offset = OFFSETS[world.zone]
    assert [t for t in found if not t.endswith(offset)] == [], f"{world.zone}: every time in {offset}"


async def test_the_event_log_moves_the_phones_own_clock_to_the_exams_offset(world: World) -> None:
    events = await world.get(f"{V1}/ops/sittings/{{sitting_id}}/events")
    (battery,) = [e for e in events if e["kind"] == "battery_low"]
    # 10:00 in +09:00 is 01:00Z: 09:00 in Beijing, 07:00 in Urumqi.
    assert battery["client_at"] == {"Asia/Shanghai": "2026-06-01T09:00:00+08:00", "Asia/Urumqi": "2026-06-01T07:00:00+06:00"}[world.zone]


async def test_staff_accounts_belong_to_no_exam_and_stay_in_utc(world: World) -> None:
    found = instants(await world.get(f"{V1}/ops/staff"))
    assert found and all(t.endswith("Z") for t in found), found


async def test_the_audit_log_shows_an_exams_entries_in_its_offset_and_the_others_in_utc(world: World) -> None:
    await world.get(f"{V1}/ops/sittings/{{sitting_id}}/recordings")  # hands out a link: audited with its expiry
    entries = await world.api.ok("GET", f"{V1}/ops/audit", world.ops, params={"limit": 1000})
    offset = OFFSETS[world.zone]
    staff_only = [e for e in entries if e["target_kind"] == "staff" and "exam_id" not in e["details"]]
    of_exam = [e for e in entries if e not in staff_only]
    # What the world did to its exam: each kind of target, reached through its exam.
    kinds = {e["target_kind"] for e in of_exam}
    assert kinds >= {"exam", "notice", "session", "question", "candidate", "sitting", "device", "recording", "face_review", "staff"}, kinds
    assert [(e["action"], t) for e in of_exam for t in instants(e) if not t.endswith(offset)] == []
    # The times the server wrote into details too (a recording link's expiry, a phase's due time).
    link = next(e for e in of_exam if e["action"] == "recording.link")
    assert link["details"]["expires_at"].endswith(offset)
    assert next(e for e in of_exam if e["action"] == "phase.announce")["details"]["due_at"].endswith(offset)
    # Staff accounts and their log-ins belong to no exam.
    assert {e["action"] for e in staff_only} >= {"staff.create", "auth.login"}
    assert [t for e in staff_only for t in instants(e) if not t.endswith("Z")] == []


async def test_routes_without_times_answer_none(world: World) -> None:
    assert instants(await world.get(f"{V1}/ops/sessions/{{session_id}}/questions")) == []
