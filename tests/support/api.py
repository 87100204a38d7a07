"""A thin test client over the public HTTP API, with role helpers, that checks every response
against the OpenAPI schema: a status a route does not declare fails the test that saw it."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from app.clock import FakeClock
from app.models import StaffRole
from app.services.auth import create_staff
from app.services.audit import Actor
from app.db import transaction

PASSWORD = "Passw0rd-test"


def id_number(seq: int, prefix: str = "370102199001") -> str:
    """A valid (check digit) fictitious ID number, distinct per seq."""
    body = f"{prefix}{seq:05d}"[:17]
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def phone(seq: int) -> str:
    return f"139{seq:08d}"


class SchemaChecker:
    def __init__(self, app: FastAPI) -> None:
        schema = app.openapi()
        self.routes: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        for path, operations in schema["paths"].items():
            pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            for method, operation in operations.items():
                self.routes.append((pattern, method.upper(), operation))

    def check(self, method: str, path: str, status: int) -> None:
        for pattern, route_method, operation in self.routes:
            if route_method == method and pattern.match(path):
                declared = operation["responses"]
                assert str(status) in declared, f"{method} {path} answered {status}, not declared: {sorted(declared)}"
                return
        # Paths outside the schema (static apps, unknown paths) answer from the framework.


@dataclass
class Api:
    client: httpx.AsyncClient
    app: FastAPI
    clock: FakeClock

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def request(self, method: str, url: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers.update(self.auth(token))
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def ok(self, method: str, url: str, token: str | None = None, status: int = 200, **kwargs: Any) -> Any:
        response = await self.request(method, url, token, **kwargs)
        assert response.status_code == status, f"{method} {url}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    # --- staff ---------------------------------------------------------------------------------
    async def staff(self, role: StaffRole = StaffRole.ops, username: str | None = None) -> str:
        """Bootstrap a staff account (the first ops account comes from the CLI in real life) and log in."""
        username = username or f"{role.value}-{uuid.uuid4().hex[:8]}"
        async with transaction(self.app.state.sessionmaker) as db:
            await create_staff(db, username=username, display_name=username, role=role, password=PASSWORD, now=self.clock.now(), actor=Actor("system", "test"))
        body = await self.ok("POST", "/api/v1/auth/staff/login", json={"username": username, "password": PASSWORD})
        return body["token"]

    async def reviewer(self, ops: str, *exam_ids: str, username: str | None = None) -> str:
        """A reviewer account made by ops and assigned `exam_ids` (the only exams it may read), logged in."""
        username = username or f"reviewer-{uuid.uuid4().hex[:8]}"
        body = {"username": username, "display_name": username, "role": StaffRole.reviewer.value, "password": PASSWORD}
        staff = await self.ok("POST", "/api/v1/ops/staff", ops, status=201, json=body)
        for exam_id in exam_ids:
            await self.ok("PUT", f"/api/v1/ops/exams/{exam_id}/staff/{staff['id']}", ops)
        return (await self.ok("POST", "/api/v1/auth/staff/login", json={"username": username, "password": PASSWORD}))["token"]

    # --- exam set-up through the ops API ------------------------------------------------------------
    async def exam(self, ops: str, **fields: Any) -> dict[str, Any]:
        now = self.clock.now()
        body = {
            "title": "2026年某单位公开招聘面试",
            "organizer": "某单位",
            "province": "山东",
            "identity_category": "其他",
            "confirm_opens_at": (now.replace(hour=0, minute=0, second=0)).isoformat(),
            "confirm_closes_at": now.replace(year=now.year + 1).isoformat(),
            "rules_text": "诚信承诺：不得退出视频录制过程。",
            "support_phone": "400-000-0000",
            "support_hours": "08:00-20:00",
        }
        body.update(fields)
        return await self.ok("POST", "/api/v1/ops/exams", ops, status=201, json=body)

    async def session(self, ops: str, exam_id: str, kind: str = "formal", **fields: Any) -> dict[str, Any]:
        body = {"kind": kind, "title": f"{kind} session", **fields}
        return await self.ok("POST", f"/api/v1/ops/exams/{exam_id}/sessions", ops, status=201, json=body)

    async def timed_session(
        self, ops: str, exam_id: str, opens: datetime, starts: datetime, ends: datetime, deadline: datetime, kind: str = "formal"
    ) -> dict[str, Any]:
        return await self.session(
            ops,
            exam_id,
            kind,
            waiting_opens_at=opens.isoformat(),
            answer_starts_at=starts.isoformat(),
            answer_ends_at=ends.isoformat(),
            upload_deadline=deadline.isoformat(),
        )

    async def question(self, ops: str, session_id: str, text: str) -> dict[str, Any]:
        return await self.ok("POST", f"/api/v1/ops/sessions/{session_id}/questions", ops, status=201, json={"text": text})

    async def roster(self, ops: str, exam_id: str, rows: list[tuple[str, str, str]], encoding: str = "utf-8") -> list[dict[str, Any]]:
        csv_text = "姓名,身份证号,手机号\n" + "".join(f"{n},{i},{p}\n" for n, i, p in rows)
        files = {"csv_file": ("roster.csv", csv_text.encode(encoding), "text/csv")}
        body = await self.ok("POST", f"/api/v1/ops/exams/{exam_id}/roster", ops, status=201, files=files)
        return body["imported"]

    async def candidate(self, ops: str, exam_id: str, seq: int = 1, name: str = "张三") -> tuple[dict[str, Any], str]:
        """Import one candidate and log in with the issued access code: (imported row, candidate token)."""
        (row,) = await self.roster(ops, exam_id, [(name, id_number(seq), phone(seq))])
        body = await self.ok("POST", "/api/v1/auth/candidate/login", json={"identifier": id_number(seq), "secret": row["access_code"]})
        return row, body["token"]

    async def confirm(self, token: str) -> dict[str, Any]:
        return await self.ok(
            "POST", "/api/v1/candidate/confirmation", token, json={"identity_category": "其他", "province": "山东", "accept_rules": True}
        )

    async def sitting_of(self, token: str, session_id: str) -> dict[str, Any]:
        sessions = await self.ok("GET", "/api/v1/candidate/sessions", token)
        (match,) = [s for s in sessions if s["id"] == session_id]
        assert match["sitting"] is not None
        return match["sitting"]

    async def device(self, token: str, sitting_id: str, role: str) -> str:
        body = await self.ok("POST", f"/api/v1/candidate/sittings/{sitting_id}/devices", token, status=201, json={"role": role})
        return body["token"]

    async def settled(self, device_token: str) -> dict[str, Any]:
        """The phone's sitting once the server has finished and verified every upload whose last byte is in (on S3
        the finish, and everywhere the probe, run after the final PATCH's answer) and done what follows (analysis
        queued, playback copies started)."""
        await self.app.state.tus.settled()
        await self.app.state.verifier.settled()
        return await self.ok("GET", "/api/v1/device/sitting", device_token)


@asynccontextmanager
async def own_app(
    database_template: str | Path, directory: Path, schema_checker: SchemaChecker, **settings: Any
) -> AsyncIterator[Api]:
    """An app of its own on a fresh copy of the test database, behind a client whose every answer is checked against
    the schema: for module fixtures that seed once for a whole table of requests (`settings` override the test ones)."""
    from app.config import Settings
    from app.main import create_app
    from tests.conftest import T0
    from tests.support import databases

    if isinstance(database_template, Path):
        url = databases.sqlite_copy(database_template, directory)
    else:
        await databases.truncate_all(database_template)
        url = database_template
    defaults: dict[str, Any] = {
        "env": "test", "data_dir": directory / "var", "database_url": url, "storage_url": None, "redis_url": None,
        "scheduler_enabled": False, "flags_runner_enabled": False, "log_json": False, "argon2_time_cost": 1, "argon2_memory_kib": 1024,
        "face_model_dir": directory / "no-face-models",
    }  # fmt: skip
    app = create_app(Settings(**{**defaults, **settings}), clock=FakeClock(T0))

    async def check(response: httpx.Response) -> None:
        schema_checker.check(response.request.method, response.request.url.path, response.status_code)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", event_hooks={"response": [check]}) as client:
            yield Api(client=client, app=app, clock=app.state.clock)
