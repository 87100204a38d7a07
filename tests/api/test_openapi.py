"""The OpenAPI schema declares every response the endpoints can give: the common errors on every operation, in the
one error shape, with a one-line description and the roles allowed (`x-roles`); then a property-based pass
(schemathesis) sends generated requests as each operation's own role and checks the answers against the schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio.from_thread
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from app.clock import FakeClock
from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.models import StaffRole
from app.services.audit import Actor
from app.services.auth import create_staff
from tests.conftest import T0
from tests.support import databases
from tests.support.api import PASSWORD, id_number, phone

SCHEMA = create_app(Settings(env="test")).openapi()
OPERATIONS = [(f"{method.upper()} {path}", op) for path, ops in SCHEMA["paths"].items() for method, op in ops.items()]
ERROR_REF = "#/components/schemas/ErrorResponse"
# Answers that are not errors in the error shape, by contract (DESIGN.md): readiness reports its checks.
NOT_ERROR_SHAPED = {("GET /readyz", "503")}


def by_operation(check: Any) -> Any:
    return pytest.mark.parametrize(("key", "op"), [pytest.param(k, o, id=k) for k, o in OPERATIONS])(check)


@by_operation
def test_every_operation_declares_500_and_422_when_it_takes_input(key: str, op: dict[str, Any]) -> None:
    assert "500" in op["responses"]
    if op.get("parameters") or op.get("requestBody"):
        assert "422" in op["responses"]
    if "application/json" in op.get("requestBody", {}).get("content", {}):
        assert "400" in op["responses"]  # malformed JSON


@by_operation
def test_protected_operations_declare_401_and_403(key: str, op: dict[str, Any]) -> None:
    assert op["x-roles"], "x-roles must name who may call (or 'anonymous')"
    if op["x-roles"] != ["anonymous"]:
        assert {"401", "403"} <= set(op["responses"])
        assert op["security"] == [{"bearer": []}]
    else:
        assert "401" not in op["responses"] or key.endswith("/login"), "an anonymous route answers 401 only for a failed log-in"


@by_operation
def test_every_error_response_uses_the_error_shape(key: str, op: dict[str, Any]) -> None:
    for status, response in op["responses"].items():
        if int(status) < 400 or (key, status) in NOT_ERROR_SHAPED:
            continue
        assert response["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}, status
        assert response["description"], status  # the codes that can come with this status


@by_operation
def test_every_operation_has_a_summary_and_a_description(key: str, op: dict[str, Any]) -> None:
    assert op.get("summary") and op.get("description"), "give the route a one-line docstring"


def test_the_error_shape_is_code_message_and_message_en() -> None:
    body = SCHEMA["components"]["schemas"]["ErrorBody"]
    assert set(body["required"]) == {"code", "message", "message_en"}


# --- property-based pass -------------------------------------------------------------------------------------

# Not schemathesis' not_a_server_error: a 503 (face models not installed here) is a declared, honest answer;
# a 500 is checked for separately.
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
SKIPPED = {"POST /api/v1/auth/logout"}  # it would revoke the token the pass uses for every other operation


class SyncApp:
    """The app, running (lifespan entered) on an event loop in a thread and called synchronously, because
    hypothesis drives sync tests. Takes the `requests`-style arguments schemathesis produces."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, client: httpx.AsyncClient) -> None:
        self.portal, self.client = portal, client

    def request(self, method: str, url: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", None) or {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookies := kwargs.pop("cookies", None):  # httpx takes cookies on the client only
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if isinstance(kwargs.get("data"), bytes | str):
            kwargs["content"] = kwargs.pop("data")
        kwargs.pop("allow_redirects", None)
        return self.portal.call(self.client.send, self.client.build_request(method, url, headers=headers, **kwargs))

    def ok(self, method: str, url: str, token: str | None = None, **kwargs: Any) -> Any:
        response = self.request(method, url, token, **kwargs)
        assert response.is_success, response.text
        return response.json()


@pytest.fixture
def running(database_template: str | Path, tmp_path: Path) -> Iterator[SyncApp]:
    if not isinstance(database_template, Path):
        pytest.skip("the property-based pass runs on SQLite only")
    app = create_app(
        Settings(
            env="test", data_dir=tmp_path / "var", database_url=databases.sqlite_copy(database_template, tmp_path), storage_url=None,
            redis_url=None, scheduler_enabled=False, log_json=False, argon2_time_cost=1, argon2_memory_kib=1024,
            face_model_dir=tmp_path / "no-face-models",  # the face routes answer 503 (declared); loading models is slow
        ),
        clock=FakeClock(T0),
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    with anyio.from_thread.start_blocking_portal() as portal, portal.wrap_async_context_manager(app.router.lifespan_context(app)):
        portal.call(_staff, app)
        with portal.wrap_async_context_manager(httpx.AsyncClient(transport=transport, base_url="http://testserver")) as client:
            yield SyncApp(portal, client)


async def _staff(app: Any) -> None:
    async with transaction(app.state.sessionmaker) as db:
        for role in StaffRole:
            await create_staff(db, username=role.value, display_name=role.value, role=role, password=PASSWORD, now=T0, actor=Actor("system", "test"))


def _tokens(app: SyncApp) -> dict[str, str]:
    """A token for every role: staff, a confirmed candidate, and its main and aux phones."""
    tokens = {r: app.ok("POST", "/api/v1/auth/staff/login", json={"username": r, "password": PASSWORD})["token"] for r in ("ops", "reviewer")}
    exam = app.ok("POST", "/api/v1/ops/exams", tokens["ops"], json={
        "title": "t", "organizer": "o", "province": "山东", "identity_category": "其他",
        "confirm_opens_at": "2026-06-01T00:00:00", "confirm_closes_at": "2027-06-01T00:00:00"})  # fmt: skip
    session = app.ok("POST", f"/api/v1/ops/exams/{exam['id']}/sessions", tokens["ops"], json={
        "kind": "formal", "title": "f", "waiting_opens_at": "2026-06-02T08:50:00", "answer_starts_at": "2026-06-02T09:00:00",
        "answer_ends_at": "2026-06-02T09:30:00", "upload_deadline": "2026-06-02T12:00:00"})  # fmt: skip
    csv_file = ("r.csv", f"姓名,身份证号,手机号\n张三,{id_number(1)},{phone(1)}\n".encode(), "text/csv")
    (row,) = app.ok("POST", f"/api/v1/ops/exams/{exam['id']}/roster", tokens["ops"], files={"csv_file": csv_file})["imported"]
    candidate = tokens["candidate"] = app.ok("POST", "/api/v1/auth/candidate/login", json={"identifier": id_number(1), "secret": row["access_code"]})["token"]
    app.ok("POST", "/api/v1/candidate/confirmation", candidate, json={"identity_category": "其他", "province": "山东", "accept_rules": True})
    (sitting,) = [s["sitting"]["id"] for s in app.ok("GET", "/api/v1/candidate/sessions", candidate) if s["id"] == session["id"]]
    for role in ("main", "aux"):
        tokens[f"device_{role}"] = app.ok("POST", f"/api/v1/candidate/sittings/{sitting}/devices", candidate, json={"role": role})["token"]
    return tokens


@pytest.mark.sqlite_only
def test_generated_requests_get_declared_answers(running: SyncApp) -> None:
    """Each operation, called as its first role with a few generated requests (deterministic: derandomized),
    answers with a declared status, content type and body, and never 500."""
    tokens = _tokens(running)
    failures: list[str] = []
    for result in schemathesis.openapi.from_dict(SCHEMA).get_all_operations():
        operation = result.ok()
        raw = operation.definition.raw
        if operation.label in SKIPPED or "multipart/form-data" in raw.get("requestBody", {}).get("content", {}):
            continue  # schemathesis serializes files for `requests`, not httpx; the uploads have their own tests
        try:
            _fuzz(running, operation, tokens.get(raw["x-roles"][0]))
        except Exception as exc:  # every operation's failure, reported together
            failures.append(f"{operation.label}: {exc}")
    assert failures == [], "\n\n".join(failures)


def _fuzz(running: SyncApp, operation: Any, token: str | None) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=5, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = running.request(token=token, **case.as_transport_kwargs(base_url="http://testserver"))
        assert response.status_code != 500, response.text
        case.validate_response(response, checks=CHECKS)

    run()
