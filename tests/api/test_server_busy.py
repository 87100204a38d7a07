"""Overload: when every database connection of the process stays busy for the pool's whole wait, a request is
answered 503 server_busy with Retry-After (declared on every route), not 500, and nothing changes; the phones and
the console retry it. Once a connection is free the same request goes through."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from tests.support.api import SchemaChecker, own_app

pytestmark = pytest.mark.anyio

EXAM = {
    "title": "2026年某单位公开招聘面试", "organizer": "某单位", "province": "山东", "identity_category": "其他",
    "confirm_opens_at": "2026-05-01T00:00:00+08:00", "confirm_closes_at": "2027-05-01T00:00:00+08:00",
}  # fmt: skip


async def test_a_request_that_waits_out_the_pool_is_told_to_retry(
    database_template: str | Path, tmp_path: Path, schema_checker: SchemaChecker
) -> None:
    async with own_app(database_template, tmp_path, schema_checker, db_pool_size=1, db_pool_overflow=0, db_pool_timeout_seconds=0.3) as api:
        ops = await api.staff()
        async with api.app.state.engine.connect() as held:  # the only connection, busy (a long transaction elsewhere)
            await held.execute(text("SELECT 1"))
            busy = await api.request("POST", "/api/v1/ops/exams", ops, json=EXAM)
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "5"
            body = busy.json()["error"]
            assert body["code"] == "server_busy" and "繁忙" in body["message"] and body["request_id"]
        exams = await api.ok("GET", "/api/v1/ops/exams", ops)
        assert exams == []  # the refused request changed nothing
        await api.ok("POST", "/api/v1/ops/exams", ops, status=201, json=EXAM)
