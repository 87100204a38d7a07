"""An app started without DUALCAM_SECRET_KEY keys its hashes and links with the key generated for its data dir,
never with the old public default (with which anyone could sign a recording link or test ID numbers against a
database dump). Real processes, production's refusal and concurrent first starts: tests/process/test_secret_key.py."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.clock import FakeClock
from app.config import Settings
from app.models import Candidate
from app.secret_key import PUBLIC_DEFAULT
from app.security import access_code_digest, id_number_digest
from tests.conftest import T0
from tests.support.api import SchemaChecker, id_number
from tests.support.processes import in_process_api

pytestmark = pytest.mark.anyio


def without_key(database_url: str, data_dir: Path) -> Settings:
    return Settings(
        env="development", data_dir=data_dir, database_url=database_url, storage_url=None, redis_url=None, clock_file=None,
        scheduler_enabled=False, log_json=False, argon2_time_cost=1, argon2_memory_kib=1024, secret_key="",
    )  # fmt: skip


async def test_without_a_key_hashes_and_links_use_the_generated_key_and_not_the_public_default(
    database_url: str, tmp_path: Path, schema_checker: SchemaChecker
) -> None:
    async with in_process_api(without_key(database_url, tmp_path / "var"), FakeClock(T0), schema_checker) as api:
        ops = await api.staff()
        exam = await api.exam(ops)
        row, _ = await api.candidate(ops, exam["id"])
        key = (tmp_path / "var" / "secret_key").read_text(encoding="utf-8").strip()
        async with api.app.state.sessionmaker() as db:
            stored = (await db.execute(select(Candidate.id_number_hash, Candidate.access_code_hash))).one()
        assert stored.id_number_hash == id_number_digest(key, id_number(1)) != id_number_digest(PUBLIC_DEFAULT, id_number(1))
        assert stored.access_code_hash == access_code_digest(key, row["access_code"]) != access_code_digest(PUBLIC_DEFAULT, row["access_code"])

        recording_id, expires = uuid.uuid4(), int((T0 + timedelta(minutes=5)).timestamp())
        forged = hmac.new(PUBLIC_DEFAULT.encode(), f"recording:{recording_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:40]
        response = await api.request("GET", f"/api/v1/recordings/{recording_id}/content", params={"expires": expires, "signature": forged})
        assert (response.status_code, response.json()["error"]["code"]) == (403, "recording_link_invalid")
