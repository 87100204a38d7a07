"""sitting/devices: one active phone per role; a new log-in supersedes the previous phone (its token revoked, its
socket told to close with when and whom to call, the event `device_replaced`); the replaced phone's token is refused
as `device_replaced` with the same notice; a closed sitting takes no new phone."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from app import errors
from app.models import Device, DeviceRole, Exam, Role
from app.services import auth
from app.services.sitting import devices, presence
from app.services.sitting.channels import device_channel
from app.services.sitting.lifecycle import FINAL_STATES, SittingState
from tests.services.conftest import READY_AT, STARTS, Env, M, Scene

pytestmark = pytest.mark.anyio

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUPPORT = {"phone": "400-800-1234", "qq": "123456", "wechat": "dualcam-help", "hours": "每天 08:00–20:00"}


async def with_support(scene: Scene, env: Env) -> None:
    async with env.tx() as db:
        await db.execute(
            update(Exam).where(Exam.id == scene.exam.id).values(support_phone=SUPPORT["phone"], support_qq=SUPPORT["qq"], support_wechat=SUPPORT["wechat"], support_hours=SUPPORT["hours"])
        )


async def test_login_device_issues_a_device_token(scene: Scene, env: Env) -> None:
    device, issued = await env.device(scene.candidate, scene.sitting_id, DeviceRole.main)
    assert (device.sitting_id, device.candidate_id, device.role, device.superseded_at) == (scene.sitting_id, scene.candidate.id, DeviceRole.main, None)
    assert (issued.role, issued.expires_at) == (Role.device, env.now() + env.ttl)
    async with env.tx() as db:
        principal = await auth.authenticate(db, token=issued.token, now=env.now())
    assert principal is not None and principal.device is not None and principal.candidate is not None
    assert (principal.device.id, principal.candidate.id) == (device.id, scene.candidate.id)
    (entry,) = await env.audit("device.login")
    assert entry.details == {"role": "main", "sitting_id": str(scene.sitting_id), "superseded": []}


async def test_a_new_login_of_a_role_supersedes_the_previous_phone(scene: Scene, env: Env) -> None:
    await with_support(scene, env)
    old, old_token = await env.device(scene.candidate, scene.sitting_id, DeviceRole.aux)
    main, main_token = await env.device(scene.candidate, scene.sitting_id, DeviceRole.main)
    env.clock.advance(seconds=5)
    async with env.hearing(device_channel(old.id), device_channel(main.id)) as heard:
        async with env.tx() as db:
            login = await devices.login_device(db, candidate=scene.candidate, view=await scene.load(db), role=DeviceRole.aux, now=env.now(), ttl=env.ttl)
        new, new_token = login.device, login.issued
        # The replaced phone is told why, when (the exam's time) and whom to call: it has no exam of its own to ask.
        notice = {"role": "aux", "replaced_at": "2026-06-01T08:00:05+08:00", "timezone": "Asia/Shanghai", "support": SUPPORT}
        assert heard.on(device_channel(old.id)) == [{"type": "command", "command": "close", "reason": "superseded", **notice}]
        assert heard.on(device_channel(main.id)) == []  # the other role is untouched
    assert (login.replaced_at, login.timezone) == (env.now(), "Asia/Shanghai")
    assert (await env.row(Device, old.id)).superseded_at == env.now()
    assert (await env.row(Device, main.id)).superseded_at is None
    async with env.tx() as db:
        assert await auth.authenticate(db, token=old_token.token, now=env.now()) is None
        assert await auth.authenticate(db, token=main_token.token, now=env.now()) is not None
        principal = await auth.authenticate(db, token=new_token.token, now=env.now())
    assert principal is not None and principal.device is not None and principal.device.id == new.id
    (event,) = [e for e in await env.events(scene.sitting_id) if e.kind == "device_replaced"]
    assert (event.device_id, event.source, event.at, event.details) == (old.id, "server", env.now(), {"role": "aux", "replaced_by": str(new.id)})
    entry = (await env.audit("device.login"))[-1]
    assert entry.details["superseded"] == [str(old.id)]


async def test_a_first_login_of_a_role_replaced_no_one(scene: Scene, env: Env) -> None:
    async with env.tx() as db:
        login = await devices.login_device(db, candidate=scene.candidate, view=await scene.load(db), role=DeviceRole.main, now=env.now(), ttl=env.ttl)
    assert login.replaced_at is None
    assert [e for e in await env.events(scene.sitting_id) if e.kind == "device_replaced"] == []


async def test_a_replaced_phones_token_is_refused_with_when_and_whom_to_call(scene: Scene, env: Env) -> None:
    await with_support(scene, env)
    _, old_token = await env.device(scene.candidate, scene.sitting_id, DeviceRole.main)
    replaced_at = env.now()
    await env.device(scene.candidate, scene.sitting_id, DeviceRole.main)
    env.clock.advance(minutes=3)  # asked later (the phone was offline): still the time it was replaced
    async with env.tx() as db:
        with pytest.raises(errors.DeviceReplaced) as refused:
            await devices.authenticate(db, token=old_token.token, now=env.now())
        assert refused.value.status == 401
        assert refused.value.details == {"role": "main", "replaced_at": replaced_at.astimezone(SHANGHAI).isoformat(), "timezone": "Asia/Shanghai", "support": SUPPORT}
        # Any other refused token is just invalid: nothing about anyone's sitting.
        for token in ("dcd_unknown", None):
            assert await devices.replaced(db, token=token, now=env.now()) is None
        with pytest.raises(errors.InvalidToken):
            await devices.authenticate(db, token="dcd_unknown", now=env.now())


@pytest.mark.parametrize("state", sorted(FINAL_STATES), ids=lambda s: s.value)
async def test_a_closed_sitting_takes_no_new_phone(scene: Scene, env: Env, state: SittingState) -> None:
    await scene.into(state)
    async with env.tx() as db:
        with pytest.raises(errors.SittingClosed):
            await devices.login_device(db, candidate=scene.candidate, view=await scene.load(db), role=DeviceRole.main, now=env.now(), ttl=env.ttl)


@pytest.mark.parametrize("state", [SittingState.scheduled, SittingState.waiting, SittingState.answering, SittingState.recorded], ids=lambda s: s.value)
async def test_an_open_sitting_takes_a_phone(scene: Scene, env: Env, state: SittingState) -> None:
    """(A phone that died while answering is replaced; the recorded one may still upload.)"""
    await scene.into(state)
    device, _ = await env.device(scene.candidate, scene.sitting_id, DeviceRole.main)
    assert device.created_at == env.now()


async def test_replacing_a_dropped_phone_while_answering_ends_its_interruption(scene: Scene, env: Env) -> None:
    _, aux = await scene.phones()
    await env.set_facts(scene.sitting_id, ready_at=READY_AT)
    env.clock.set(STARTS + M)
    async with env.tx() as db:
        old = await db.get_one(Device, aux.id)
        await presence.connect(db, device=old, now=env.now(), timeout=env.timeout)
    async with env.tx() as db:  # 09:01 the aux phone dies
        await presence.disconnect(db, device=await db.get_one(Device, aux.id), now=env.now(), timeout=env.timeout, reason="socket_closed")
    env.clock.advance(seconds=30)  # 09:01:30 the candidate pairs another phone as aux, and it comes online
    new, _ = await env.device(scene.candidate, scene.sitting_id, DeviceRole.aux)
    async with env.tx() as db:
        await presence.connect(db, device=await db.get_one(Device, new.id), now=env.now(), timeout=env.timeout)
    env.clock.set(STARTS + 5 * M)  # well past drop + grace (09:03)
    async with env.tx() as db:
        await presence.enforce_away(db, now=env.now())
    view = await scene.view()
    assert (view.state, view.sitting.terminated_reason) == (SittingState.answering, None)
