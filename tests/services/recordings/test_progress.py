"""recordings/progress: per role, how many of a session's sittings have their recording missing, receiving,
verified or failed; per sitting, one entry per role (missing ones too) with the bytes in."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.models import DeviceRole, Recording, RecordingStatus, UploadRow
from app.services.recordings import progress
from tests.services.conftest import DEADLINE, QUESTION, Env, M

pytestmark = pytest.mark.anyio


async def test_session_counts_and_progress(env: Env) -> None:
    exam = await env.exam()
    session = await env.formal(exam, QUESTION)
    later = DEADLINE + timedelta(days=1)
    elsewhere = await env.formal(exam, QUESTION, opens=later, starts=later + M, ends=later + 2 * M, deadline=later + 3 * M)
    people = [await env.candidate(exam) for _ in range(4)]
    ids = [await env.sitting_id(c, session) for c in people]
    other = await env.sitting_id(people[0], elsewhere)
    statuses = [
        (ids[0], DeviceRole.main, RecordingStatus.verified),
        (ids[0], DeviceRole.aux, RecordingStatus.verified),
        (ids[1], DeviceRole.main, RecordingStatus.receiving),
        (ids[1], DeviceRole.aux, RecordingStatus.failed),
        (ids[2], DeviceRole.main, RecordingStatus.receiving),
        (other, DeviceRole.main, RecordingStatus.verified),  # another session's: not counted
    ]
    async with env.tx() as db:
        for n, (sitting_id, role, status) in enumerate(statuses):
            db.add(Recording(sitting_id=sitting_id, role=role, upload_id=f"up{n}", status=status, created_at=env.now()))
        db.add(UploadRow(id="up2", owner="o", subject="s", upload_offset=40, upload_length=100, storage_key="k", chain_sha256="0" * 64, created_at=env.now(), updated_at=env.now()))
    async with env.tx() as db:
        counts = await progress.session_counts(db, session_id=session.id)
        seen = await progress.progress(db, [ids[1], ids[3]], uploads=env.app.state.tus)
        assert await progress.progress(db, [], uploads=env.app.state.tus) == {}
    assert counts == {
        DeviceRole.main: {"missing": 1, "receiving": 2, "verified": 1, "failed": 0},
        DeviceRole.aux: {"missing": 2, "receiving": 0, "verified": 1, "failed": 1},
    }
    (main, aux), (none_main, none_aux) = seen[ids[1]], seen[ids[3]]
    assert [(p.role, p.status, p.bytes_received, p.length) for p in (main, aux)] == [
        (DeviceRole.main, "receiving", 40, 100), (DeviceRole.aux, "failed", 0, None),  # no upload row yet
    ]  # fmt: skip
    assert main.last_write_at == env.now()
    assert [(p.role, p.status, p.recording) for p in (none_main, none_aux)] == [(DeviceRole.main, "missing", None), (DeviceRole.aux, "missing", None)]
