"""The analysis of verified recordings, through HTTP with the real parts: tus uploads verified by PyAV, the job
queue on the test database, worker processes that load the real face engine and analyse the real files, and the
flags as ops read them. The runner's passes are driven by hand (`run_pending`), like the scheduler's tick."""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.clock import FakeClock
from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.models import Flag, FlagSource
from app.services.face import engine as face_engine
from app.services.flags.queue import Claim, queue_for
from app.services.flags.runner import Runner
from tests.support.api import Api
from tests.support.face import face_models_fixture  # noqa: F401  (face_models)
from tests.support.flags import V1, answering, by_role, of_source, recorded
from tests.support.media import webm

pytestmark = pytest.mark.anyio

MAIN_VIDEO = webm(seconds=6.0)  # grey frames: nobody in front of the camera
AUX_VIDEO = webm(seconds=5.0, fps=8)
MEMORY_MB = 300  # what one worker may hold of its own (its models loaded: ~170 MB here)
SHARED_CODE_MB = 200  # the shared libraries' pages on top (OpenCV, onnxruntime, FFmpeg: ~160 MB here)


@pytest.fixture
def settings(settings: Settings, face_models: Path) -> Settings:
    """The suite's settings with the real face models, and progress written every 0.1 s (a job here takes ~1 s)."""
    return Settings(**{**settings.model_dump(), "face_model_dir": face_models, "face_pack": "sface", "flags_progress_seconds": 0.1})


def runner(api: Api) -> Runner:
    return api.app.state.flags


async def test_a_verified_recording_is_queued_and_analysed_into_recording_flags(api: Api) -> None:
    async with answering(api) as a:
        await recorded(a, MAIN_VIDEO, AUX_VIDEO)
        queued = await a.flags()
        assert {r: (j["status"], j["attempts"], j["progress"]) for r, j in by_role(queued).items()} == {"main": ("pending", 0, 0.0), "aux": ("pending", 0, 0.0)}
        assert of_source(queued, "recording") == []

        runs = await runner(api).run_pending()
        assert sorted(r.status for r in runs) == ["done", "done"]
        memory = [r.memory for r in runs if r.memory is not None]
        assert len(memory) == 2 and all(m.private_mb <= MEMORY_MB and m.rss_mb <= MEMORY_MB + SHARED_CODE_MB for m in memory), runs
        assert [r.niceness for r in runs] == [min(os.nice(0) + 10, 19)] * 2  # analysis yields the cores to the server's requests
        body = await a.flags()
        assert {r: (j["status"], j["attempts"], j["progress"], j["failure_reason"]) for r, j in by_role(body).items()} == {
            "main": ("done", 1, 1.0, None), "aux": ("done", 1, 1.0, None)
        }  # fmt: skip
        found = of_source(body, "recording")
        no_face = [f for f in found if f["kind"] == "no_face" and f["role"] == "main"]
        assert no_face and no_face[0]["start_s"] <= 2.0 and no_face[-1]["end_s"] >= 4.0, found
        # Seconds from the phone's recording start, and the same stretch in the exam's time.
        start = body["recording_started_at"]["main"]
        assert start.endswith("+08:00") and no_face[0]["started_at"].endswith("+08:00")
        # Both phones on one timeline, by server time.
        assert [f["started_at"] for f in body["flags"]] == sorted(f["started_at"] for f in body["flags"])
        assert await runner(api).run_pending() == []  # nothing left


async def test_running_again_gives_the_same_flags_and_reanalyze_really_runs(api: Api) -> None:
    async with answering(api) as a:
        await recorded(a, MAIN_VIDEO)
        await runner(api).run_pending()
        first = await a.flags()
        api.clock.advance(minutes=5)
        queued = await api.ok("POST", f"{V1}/ops/sittings/{a.sitting_id}/flags/reanalyze", a.s.ops, status=202)
        assert [(j["role"], j["status"], j["attempts"], j["job_id"]) for j in queued["analysis"]] == [("main", "pending", 0, by_role(first)["main"]["job_id"])]
        (run,) = await runner(api).run_pending()
        assert (run.status, run.attempts) == ("done", 1)
        again = await a.flags()
        # The same bytes and analyzer: the same flags, the same rows (verdicts that point at them stay valid).
        assert of_source(again, "recording") == of_source(first, "recording")
        assert by_role(again)["main"]["finished_at"] > by_role(first)["main"]["finished_at"]
        audit = await api.ok("GET", f"{V1}/ops/audit", a.s.ops, params={"action": "flags.reanalyze"})
        assert [e["target_id"] for e in audit] == [a.sitting_id]
        reviewer = await api.reviewer(a.s.ops, a.s.exam["id"])
        refused = await api.request("POST", f"{V1}/ops/sittings/{a.sitting_id}/flags/reanalyze", reviewer)
        assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")


async def test_a_new_analyzer_version_supersedes_the_old_flags_without_deleting_them(api: Api, settings: Settings) -> None:
    async with answering(api) as a:
        await recorded(a, MAIN_VIDEO)
        await runner(api).run_pending()
        old = of_source(await a.flags(), "recording")
        app = api.app
        faces = face_engine.Faces(app.state.face, app.state.store, face_engine.FacePolicy.of(settings), app.state.face_throttle)
        upgraded = Runner(
            sessionmaker=app.state.sessionmaker, hub=app.state.hub, clock=api.clock, queue=queue_for(is_sqlite=settings.is_sqlite),
            reader=app.state.tus, faces=faces, settings=settings, scratch_dir=settings.data_dir / "tmp" / "analysis", analyzer_version="next",
        )  # fmt: skip
        try:
            api.clock.advance(minutes=1)
            (run,) = await upgraded.run_pending()  # the recording has no job of this version yet: queued and run
        finally:
            await upgraded.stop()
        assert run.status == "done"
        body = await a.flags()
        new = of_source(body, "recording")
        assert new and {f["analyzer_version"] for f in new} == {"next"} and by_role(body)["main"]["analyzer_version"] == "next"
        assert {f["id"] for f in new}.isdisjoint({f["id"] for f in old})
        async with app.state.sessionmaker() as db:
            kept = (await db.scalars(select(Flag).where(Flag.source == FlagSource.recording, Flag.analyzer_version != "next"))).all()
        assert sorted(str(f.id) for f in kept) == sorted(f["id"] for f in old) and all(f.superseded_at is not None for f in kept)


async def test_a_damaged_file_is_retried_three_times_then_failed_with_its_reason(api: Api, settings: Settings) -> None:
    async with answering(api) as a:
        await recorded(a, MAIN_VIDEO)
        # The stored bytes damaged after verification (a disk fault): the analysis cannot read them.
        (stored,) = [p for p in (settings.data_dir / "objects").rglob("*") if p.is_file() and p.stat().st_size == len(MAIN_VIDEO)]
        stored.write_bytes(b"\x00" * len(MAIN_VIDEO))
        for attempt in range(1, 5):
            (run,) = await runner(api).run_pending()
            assert (run.attempts, run.status) == (attempt, "pending" if attempt < 4 else "failed"), run
            job = by_role(await a.flags())["main"]
            assert job["status"] == run.status and job["failure_reason"] and job["attempts"] == attempt
            assert await runner(api).run_pending() == []  # not before the retry delay
            api.clock.advance(seconds=settings.flags_retry_seconds)
        assert await runner(api).run_pending() == []  # failed for good
        body = await a.flags()
        assert by_role(body)["main"]["finished_at"] is not None
        assert of_source(body, "recording") == []  # nothing else: no flags from it
        assert [f["kind"] for f in of_source(body, "event")] == ["short_recording"]


async def test_progress_is_written_while_a_worker_runs(api: Api) -> None:
    # Long enough that its analysis (after the worker's engine loads, at 0.0) spans many 0.1 s progress writes:
    # tiny frames are analysed fast, and a 90 s video sometimes finished between two of them.
    long_video = webm(seconds=360.0, fps=5)
    async with answering(api) as a:
        await recorded(a, long_video)
        seen: list[float] = []
        task = asyncio.create_task(runner(api).run_pending())
        async with asyncio.timeout(120):
            while not task.done():
                job = by_role(await a.flags())["main"]
                if job["status"] == "running":
                    seen.append(job["progress"])
                await asyncio.sleep(0.05)
        (run,) = await task
        assert run.status == "done"
        assert any(0 < p < 1 for p in seen), seen
        assert seen == sorted(seen)
        assert by_role(await a.flags())["main"]["progress"] == 1.0


@asynccontextmanager
async def restarted(settings: Settings, clock: FakeClock) -> AsyncIterator[Api]:
    """The server started again on the same database and data dir."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Api(client=client, app=app, clock=clock)


async def test_after_a_restart_pending_jobs_and_jobs_of_a_dead_worker_resume(api: Api, settings: Settings, clock: FakeClock) -> None:
    async with answering(api) as a:
        await recorded(a, MAIN_VIDEO, AUX_VIDEO)
        # A worker took the aux job and died with its process (no news: its lease runs out); main is still pending.
        lease = timedelta(seconds=settings.flags_lease_seconds)
        async with transaction(api.app.state.sessionmaker) as db:
            claim = Claim(worker="gone:1:dead", lease=lease, analyzer_version=runner(api).analyzer_version)
            taken = await queue_for(is_sqlite=settings.is_sqlite).claim(db, claim=claim, now=clock.now())
        assert taken is not None
        ops, sitting_id = a.s.ops, a.sitting_id

    # The first server ran nothing; a new one starts on the same database and data dir.
    async with restarted(settings, clock) as again:
        (run,) = await runner(again).run_pending()  # the pending one; the claimed one waits for its lease
        assert run.status == "done" and run.job_id != taken.id
        clock.advance(seconds=settings.flags_lease_seconds + 1)
        (resumed,) = await runner(again).run_pending()
        assert (resumed.job_id, resumed.status, resumed.attempts) == (taken.id, "done", 2)
        body = await again.ok("GET", f"{V1}/ops/sittings/{sitting_id}/flags", ops)
        assert {r: j["status"] for r, j in by_role(body).items()} == {"main": "done", "aux": "done"}
