"""Property-based pass over the whole OpenAPI schema (schemathesis' pytest integration, in-process against the ASGI
app): each operation, called as the first role of its `x-roles` with a few generated requests, valid and invalid,
answers with a declared status, content type and body, never a 5xx, and refuses what the schema forbids.

Bounded and deterministic: a few examples per operation from a fixed seed, so a run takes well under a minute and
fails the same way twice. It runs in CI's SQLite pass only (`sqlite_only`): the checks are about the HTTP contract."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from schemathesis.specs.openapi import checks

from app.clock import FakeClock
from app.config import Settings
from app.db import make_engine, make_sessionmaker, transaction
from app.main import create_app
from app.models import StaffRole
from app.services.audit import Actor
from app.services.auth import create_staff
from tests.conftest import T0
from tests.support import databases
from tests.support.api import PASSWORD, id_number, phone
from tests.support.face import face_models_fixture  # noqa: F401  (the face_models fixture: the face routes run for real)

pytestmark = pytest.mark.sqlite_only

schema = schemathesis.openapi.from_dict(create_app(Settings(env="test")).openapi(), config=SchemathesisConfig())
schema.config.seed = 20260601
schema.config.generation.update(max_examples=5, deterministic=True, database="none")
# Examples from the schema, the coverage phase (boundaries, each kind of invalid value, undeclared methods), then
# random fuzzing; not the stateful phase, whose chains of calls would multiply the runtime.
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])

CHECKS = [
    not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
    checks.unsupported_method,
    checks.allow_header_conformance,
]


@pytest.fixture(scope="module")
def client(database_template: str | Path, tmp_path_factory: pytest.TempPathFactory, face_models: Path) -> Iterator[asgi.ASGIClient]:
    """schemathesis' own ASGI client (a `requests` session) on an app with the face models, the lifespan entered."""
    directory = tmp_path_factory.mktemp("fuzz")
    if isinstance(database_template, Path):
        url = databases.sqlite_copy(database_template, directory)
    else:
        url = database_template
        asyncio.run(databases.truncate_all(url))
    app = create_app(
        Settings(
            env="test", data_dir=directory / "var", database_url=url, storage_url=None, redis_url=None, scheduler_enabled=False,
            log_json=False, argon2_time_cost=1, argon2_memory_kib=1024, face_model_dir=face_models, face_pack="sface",
        ),
        clock=FakeClock(T0),
    )
    asyncio.run(_first_ops(url))
    try:
        with asgi.get_client(app) as session:
            yield session
    finally:
        asgi.shutdown_lifespans()  # else the app would live (and hold its database) until the interpreter exits


async def _first_ops(url: str) -> None:
    """The first ops account (the CLI's `staff create` in real life), written before the app starts."""
    engine = make_engine(url)
    try:
        async with transaction(make_sessionmaker(engine)) as db:
            await create_staff(db, username="fuzz-ops", display_name="fuzz", role=StaffRole.ops, password=PASSWORD, now=T0, actor=Actor("system", "test"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def tokens(client: asgi.ASGIClient) -> dict[str, str]:
    """A token for every role that comes first in some `x-roles`: ops, a grader, a confirmed candidate, its two phones."""

    def ok(method: str, url: str, token: str | None = None, **kwargs: Any) -> Any:
        response = client.request(method, url, headers={"Authorization": f"Bearer {token}"} if token else {}, **kwargs)
        assert response.ok, response.text
        return response.json()

    ops = ok("POST", "/api/v1/auth/staff/login", json={"username": "fuzz-ops", "password": PASSWORD})["token"]
    exam = ok("POST", "/api/v1/ops/exams", ops, json={
        "title": "t", "organizer": "o", "province": "山东", "identity_category": "其他",
        "confirm_opens_at": "2026-06-01T00:00:00", "confirm_closes_at": "2027-06-01T00:00:00"})  # fmt: skip
    session = ok("POST", f"/api/v1/ops/exams/{exam['id']}/sessions", ops, json={
        "kind": "formal", "title": "f", "waiting_opens_at": "2026-06-02T08:50:00", "answer_starts_at": "2026-06-02T09:00:00",
        "answer_ends_at": "2026-06-02T09:30:00", "upload_deadline": "2026-06-02T12:00:00"})  # fmt: skip
    csv_file = ("r.csv", f"姓名,身份证号,手机号\n张三,{id_number(1)},{phone(1)}\n".encode(), "text/csv")
    (row,) = ok("POST", f"/api/v1/ops/exams/{exam['id']}/roster", ops, files={"csv_file": csv_file})["imported"]
    candidate = ok("POST", "/api/v1/auth/candidate/login", json={"identifier": id_number(1), "secret": row["access_code"]})["token"]
    ok("POST", "/api/v1/candidate/confirmation", candidate, json={"identity_category": "其他", "province": "山东", "accept_rules": True})
    (sitting,) = [s["sitting"]["id"] for s in ok("GET", "/api/v1/candidate/sessions", candidate) if s["id"] == session["id"]]
    ok("POST", "/api/v1/ops/staff", ops, json={"username": "fuzz-grader", "display_name": "评分员", "role": "grader", "password": PASSWORD})
    grader = ok("POST", "/api/v1/auth/staff/login", json={"username": "fuzz-grader", "password": PASSWORD})["token"]
    found = {"ops": ops, "grader": grader, "candidate": candidate}
    for role in ("main", "aux"):
        found[f"device_{role}"] = ok("POST", f"/api/v1/candidate/sittings/{sitting}/devices", candidate, json={"role": role})["token"]
    return found


# Log-out would revoke the token every later operation of its role uses; tests/api/test_auth.py covers it.
@schema.exclude(method="POST", path="/api/v1/auth/logout").parametrize()
def test_generated_requests_get_declared_answers(case: schemathesis.Case, client: asgi.ASGIClient, tokens: dict[str, str]) -> None:
    role = case.operation.definition.raw["x-roles"][0]
    headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}
    case.call_and_validate(session=client, headers=headers, checks=CHECKS)
