"""The face attempt counters raced through the API with the real sface models: N captures at once, on SQLite and
PostgreSQL. Whatever the interleaving, a candidate's counted identity failures stop at the limit with one open
review, and the waiting-room gate's failures in a row cannot run past a cool-down.

In one process the throttle refuses the second capture of a burst before any work; several processes (one worker
each, simulated by a throttle that never refuses) and a configuration without a minimum interval leave the
database to decide (tests/support/concurrency.py), which is what these tests are about.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.models import FaceCheck, FacePurpose, FaceReview
from tests.support.api import Api
from tests.support.concurrency import N, at_once, codes
from tests.support.face import (
    candidate_with_photo,
    face_models_fixture,  # noqa: F401  (the face_models fixture)
    face_settings,  # noqa: F401  (the settings fixture, with the models)
    photo,
    selfie,
    upload,
)
from tests.support.realtime import DEADLINE, ENDS, OPENS, STARTS

pytestmark = pytest.mark.anyio


class SeveralProcesses:
    """The throttle as N worker processes see a burst spread over them: each has seen no earlier capture."""

    def hit(self, key: str, *, now: datetime, interval: timedelta) -> None:
        return None


def several_processes(api: Api) -> None:
    api.app.state.face_throttle = SeveralProcesses()


def no_minimum_interval(api: Api) -> None:
    api.app.state.settings = api.app.state.settings.model_copy(update={"face_min_interval_seconds": 0})


async def checks(api: Api, purpose: FacePurpose, candidate_id: str) -> list[FaceCheck]:
    async with api.app.state.sessionmaker() as db:
        query = select(FaceCheck).where(FaceCheck.candidate_id == uuid.UUID(candidate_id), FaceCheck.purpose == purpose)
        return list((await db.scalars(query)).all())


async def open_reviews(api: Api, candidate_id: str) -> int:
    async with api.app.state.sessionmaker() as db:
        query = select(func.count()).select_from(FaceReview).where(FaceReview.candidate_id == uuid.UUID(candidate_id), FaceReview.resolved_at.is_(None))
        return await db.scalar(query) or 0


def selfies(api: Api, token: str, name: str) -> list[Awaitable[httpx.Response]]:
    return [api.request("POST", "/api/v1/candidate/identity/selfie", token, files=upload(photo(name))) for _ in range(N)]


# --- identity: counted failures → one manual review -------------------------------------------------------------------


def one_judged(responses: list[httpx.Response], refusal: tuple[int, str]) -> None:
    """One capture of the burst was judged; each other was refused, by `refusal` or, when it came first, by the face
    engine holding this candidate's one picture at a time (429 face_request_pending)."""
    found = codes(responses)
    assert found[(200, None)] == 1 and sum(found.values()) == N, found
    assert set(found) <= {(200, None), refusal, (429, "face_request_pending")}, found


async def test_selfies_at_the_limit_at_once_open_one_review_and_count_no_further(api: Api) -> None:
    no_minimum_interval(api)
    ops = await api.staff()
    exam = await api.exam(ops)
    row, token = await candidate_with_photo(api, ops, exam["id"])
    for _ in range(4):
        assert (await selfie(api, token, photo("impostor_1"))).json()["review_pending"] is False

    responses = await at_once(*selfies(api, token, "impostor_2"))

    one_judged(responses, (409, "face_review_pending"))
    (judged,) = [r.json() for r in responses if r.status_code == 200]
    assert judged["failures"] == 5 and judged["review_pending"] is True
    assert len(await checks(api, FacePurpose.identity, row["candidate_id"])) == 5
    assert await open_reviews(api, row["candidate_id"]) == 1
    status = await api.ok("GET", "/api/v1/candidate/identity", token)
    assert status["failures"] == 5 and status["review"]["status"] == "open"


@pytest.mark.parametrize("spread", ["one process", "several processes"])
async def test_a_burst_of_selfies_is_judged_once(api: Api, spread: str) -> None:
    if spread == "several processes":
        several_processes(api)
    ops = await api.staff()
    exam = await api.exam(ops)
    row, token = await candidate_with_photo(api, ops, exam["id"])

    responses = await at_once(*selfies(api, token, "impostor_1"))

    one_judged(responses, (429, "face_rate_limited"))
    assert all(r.headers["retry-after"] == "1" for r in responses if r.status_code == 429)
    assert len(await checks(api, FacePurpose.identity, row["candidate_id"])) == 1
    assert (await api.ok("GET", "/api/v1/candidate/identity", token))["failures"] == 1


# --- the waiting-room gate: failures in a row → cool-down -------------------------------------------------------------


async def _seat(api: Api) -> dict[str, Any]:
    """A confirmed, verified candidate with the main phone logged in, in the waiting window."""
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    row, token = await candidate_with_photo(api, ops, exam["id"])
    assert (await selfie(api, token, photo("person_a_2"))).json()["passed"] is True
    await api.confirm(token)
    sitting = await api.sitting_of(token, session["id"])
    main = await api.device(token, sitting["id"], "main")
    api.clock.set(OPENS)
    return {"candidate_id": row["candidate_id"], "main": main}


def captures(api: Api, token: str, name: str) -> list[Awaitable[httpx.Response]]:
    return [api.request("POST", "/api/v1/device/face", token, files=upload(photo(name))) for _ in range(N)]


async def test_gate_failures_at_once_cannot_run_past_the_cooldown(api: Api) -> None:
    no_minimum_interval(api)
    s = await _seat(api)
    for n in (1, 2):
        api.clock.advance(seconds=1)
        failed = await api.ok("POST", "/api/v1/device/face", s["main"], files=upload(photo("impostor_1")))
        assert failed["failures_in_row"] == n and failed["cooldown_until"] is None

    responses = await at_once(*captures(api, s["main"], "person_b_1"))

    one_judged(responses, (429, "face_cooldown"))
    (judged,) = [r.json() for r in responses if r.status_code == 200]
    assert judged["failures_in_row"] == 3 and judged["cooldown_until"] is not None
    gate_checks = await checks(api, FacePurpose.waiting, s["candidate_id"])
    assert len([c for c in gate_checks if c.counted and not c.passed]) == 3
    # The cool-down holds for the next capture too (a streak run past 3 would have skipped it).
    api.clock.advance(seconds=5)
    later = await api.request("POST", "/api/v1/device/face", s["main"], files=upload(photo("person_a_2")))
    assert later.status_code == 429 and later.json()["error"]["code"] == "face_cooldown"


@pytest.mark.parametrize("spread", ["one process", "several processes"])
async def test_a_burst_of_gate_captures_is_judged_once(api: Api, spread: str) -> None:
    if spread == "several processes":
        several_processes(api)
    s = await _seat(api)

    responses = await at_once(*captures(api, s["main"], "impostor_1"))

    one_judged(responses, (429, "face_rate_limited"))
    assert len(await checks(api, FacePurpose.waiting, s["candidate_id"])) == 1
