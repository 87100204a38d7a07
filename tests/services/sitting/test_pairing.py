"""sitting/pairing: only the main phone offers a code, for an open sitting; a code is claimed once, before it expires,
and never by a phone logged in for another candidate; the claimer becomes the aux phone."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app import errors
from app.models import Device, DeviceRole, PairingToken, Role
from app.security import token_digest
from app.services import auth
from app.services.auth import Principal
from app.services.sitting import pairing
from app.services.sitting.channels import sitting_channel
from app.services.sitting.lifecycle import SittingState
from tests.services.conftest import Env, Scene

pytestmark = pytest.mark.anyio

BASE = "https://exam.example.cn/"


async def offer(env: Env, main: Device) -> pairing.PairingOffer:
    async with env.tx() as db:
        return await pairing.offer(db, main=main, base_url=BASE, now=env.now())


async def claim(env: Env, token: str, claimer: Principal | None = None) -> tuple[Device, auth.IssuedToken]:
    async with env.tx() as db:
        login = await pairing.claim(db, token=token, claimer=claimer, now=env.now(), ttl=env.ttl)
        return login.device, login.issued


async def test_the_main_phone_offers_a_short_lived_code(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    made = await offer(env, main)
    assert made.url == f"https://exam.example.cn/aux/#pair={made.token}"
    assert made.expires_at == env.now() + pairing.PAIRING_TTL
    assert made.qr_svg.startswith("<svg")
    row = await token_row(env, made.token)
    assert (row.sitting_id, row.candidate_id, row.created_by_device_id, row.used_at) == (scene.sitting_id, scene.candidate.id, main.id, None)


async def token_row(env: Env, token: str) -> PairingToken:
    async with env.tx() as db:
        return (await db.scalars(select(PairingToken).where(PairingToken.token_hash == token_digest(token)))).one()


async def test_only_the_main_phone_offers(scene: Scene, env: Env) -> None:
    _, aux = await scene.phones()
    with pytest.raises(errors.MainDeviceOnly):
        await offer(env, aux)


@pytest.mark.parametrize("state", [SittingState.absent, SittingState.terminated, SittingState.uploaded, SittingState.incomplete], ids=lambda s: s.value)
async def test_no_code_for_a_closed_sitting(scene: Scene, env: Env, state: SittingState) -> None:
    main, _ = await scene.phones()
    await scene.into(state)
    with pytest.raises(errors.SittingClosed):
        await offer(env, main)


async def test_a_claim_makes_the_claimer_the_aux_phone(scene: Scene, env: Env) -> None:
    main, old_aux = await scene.phones()
    made = await offer(env, main)
    env.clock.advance(seconds=30)
    async with env.hearing(sitting_channel(scene.sitting_id)) as heard:
        device, issued = await claim(env, made.token)
        assert heard.on(sitting_channel(scene.sitting_id)) == [{"type": "pair.status", "paired": True, "aux_device_id": str(device.id), "at": env.now().isoformat()}]
    assert (device.role, device.sitting_id, device.candidate_id, issued.role) == (DeviceRole.aux, scene.sitting_id, scene.candidate.id, Role.device)
    assert (await env.row(Device, old_aux.id)).superseded_at == env.now()
    row = await token_row(env, made.token)
    assert (row.used_at, row.used_by_device_id) == (env.now(), device.id)
    assert [e.kind for e in await env.events(scene.sitting_id)][-2:] == ["device_replaced", "paired"]


async def test_the_same_candidates_own_phone_may_claim(scene: Scene, env: Env) -> None:
    main, _ = await scene.phones()
    made = await offer(env, main)
    mine = Principal(Role.candidate, uuid.uuid4(), candidate=scene.candidate)
    device, _ = await claim(env, made.token, mine)
    assert device.role is DeviceRole.aux


CLAIMS = [
    # (label, seconds after the offer, claimed before, by another candidate, error)
    ("unknown code", 0, False, False, errors.PairingTokenUnknown),
    ("used already", 1, True, False, errors.PairingTokenUsed),
    ("the last second", 119, False, False, None),
    ("expired at the expiry instant", 120, False, False, errors.PairingTokenExpired),
    ("expired long ago", 3600, False, False, errors.PairingTokenExpired),
    ("another candidate's phone", 1, False, True, errors.PairingOtherCandidate),
    ("another candidate's phone, code used", 1, True, True, errors.PairingOtherCandidate),
]


@pytest.mark.parametrize(("label", "after", "used", "other", "expected"), CLAIMS, ids=[c[0] for c in CLAIMS])
async def test_claim_refusals(scene: Scene, env: Env, label: str, after: int, used: bool, other: bool, expected: type[errors.DualcamError] | None) -> None:
    main, _ = await scene.phones()
    made = await offer(env, main)
    token = "pair_unknown" if expected is errors.PairingTokenUnknown else made.token
    if used:
        await claim(env, made.token)
    claimer = Principal(Role.candidate, uuid.uuid4(), candidate=await env.candidate(scene.exam)) if other else None
    env.clock.advance(seconds=after)
    if expected is None:
        device, _ = await claim(env, token, claimer)
        assert device.role is DeviceRole.aux
        return
    with pytest.raises(expected):
        await claim(env, token, claimer)
