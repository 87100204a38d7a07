"""Pairing and device log-in raced through the API (tests/support/concurrency.py), on SQLite and PostgreSQL: one
code pairs one aux phone; log-ins of one role leave one valid phone."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from app.models import Device, DeviceRole
from tests.support.api import Api
from tests.support.concurrency import N, at_once, codes
from tests.support.realtime import DEADLINE, ENDS, OPENS, STARTS, scene

pytestmark = pytest.mark.anyio


async def valid(api: Api, token: str) -> bool:
    """Whether a phone's token still opens its sitting (a superseded phone's answers 401)."""
    response = await api.request("GET", "/api/v1/device/sitting", token)
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


async def active_devices(api: Api, sitting_id: str, role: DeviceRole) -> int:
    async with api.app.state.sessionmaker() as db:
        query = select(func.count()).select_from(Device).where(
            Device.sitting_id == uuid.UUID(sitting_id), Device.role == role, Device.superseded_at.is_(None)
        )
        return await db.scalar(query) or 0


async def _main_only(api: Api) -> tuple[str, str, str]:
    """A confirmed candidate whose main phone is logged in and whose aux phone is not (yet): (ops, sitting, main)."""
    ops = await api.staff()
    exam = await api.exam(ops)
    session = await api.timed_session(ops, exam["id"], OPENS, STARTS, ENDS, DEADLINE)
    _, token = await api.candidate(ops, exam["id"])
    await api.confirm(token)
    sitting = await api.sitting_of(token, session["id"])
    return ops, sitting["id"], await api.device(token, sitting["id"], "main")


async def test_one_pairing_code_claimed_by_ten_phones_at_once_pairs_one(api: Api) -> None:
    ops, sitting_id, main = await _main_only(api)
    offer = await api.ok("POST", "/api/v1/device/pairing", main, status=201)

    responses = await at_once(*(api.request("POST", "/api/v1/pairing/claim", json={"token": offer["token"]}) for _ in range(N)))

    assert codes(responses) == {(201, None): 1, (409, "pairing_token_used"): N - 1}
    (winner,) = [r.json() for r in responses if r.status_code == 201]
    assert winner["sitting_id"] == sitting_id
    assert await valid(api, winner["token"]) and await valid(api, main)
    assert await active_devices(api, sitting_id, DeviceRole.aux) == 1
    events = await api.ok("GET", f"/api/v1/ops/sittings/{sitting_id}/events", ops)
    assert [e["device_id"] for e in events if e["kind"] == "paired"] == [winner["device_id"]]


async def test_ten_main_phone_log_ins_at_once_leave_one_valid(api: Api) -> None:
    s = await scene(api)
    login = f"/api/v1/candidate/sittings/{s.seat.sitting_id}/devices"

    responses = await at_once(*(api.request("POST", login, s.seat.candidate, json={"role": "main"}) for _ in range(N)))

    assert set(codes(responses)) <= {(201, None), (409, "device_login_conflict")}
    issued = [r.json()["token"] for r in responses if r.status_code == 201]
    assert issued, "at least one log-in wins"
    still_valid = [token for token in [s.seat.main, *issued] if await valid(api, token)]
    assert len(still_valid) == 1 and still_valid[0] in issued
    assert await active_devices(api, s.seat.sitting_id, DeviceRole.main) == 1
    # The aux phone is another role: untouched.
    assert await valid(api, s.seat.aux) and await active_devices(api, s.seat.sitting_id, DeviceRole.aux) == 1


async def test_a_log_in_that_lost_the_race_may_simply_try_again(api: Api) -> None:
    s = await scene(api)
    login = f"/api/v1/candidate/sittings/{s.seat.sitting_id}/devices"
    await at_once(*(api.request("POST", login, s.seat.candidate, json={"role": "main"}) for _ in range(N)))

    again = await api.ok("POST", login, s.seat.candidate, status=201, json={"role": "main"})

    assert await valid(api, again["token"]) and await active_devices(api, s.seat.sitting_id, DeviceRole.main) == 1
