"""auth: a bearer token names its principal until it is revoked or expires (a device's also until the phone is
superseded, a staff member's until disabled); failed log-ins are counted per account key, across spellings of it,
and refuse further tries for the window; the candidate's own log-ins end on a credential change, its phones' do not."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from app import errors
from app.models import Candidate, DeviceRole, LoginAttempt, Role, StaffRole, StaffUser
from app.services import auth
from app.services.audit import Actor
from app.services.exam import candidates
from tests.conftest import T0
from tests.services.conftest import OPS, Env, S, Scene
from tests.support.api import PASSWORD, id_number, phone

pytestmark = pytest.mark.anyio

POLICY = auth.LoginPolicy(max_failures=3, client_max_failures=20, window=timedelta(minutes=15), token_ttl=timedelta(hours=1))
CLIENT = "203.0.113.7"  # one client's address bucket throughout


async def principal(env: Env, token: str, at=None) -> auth.Principal | None:
    async with env.tx() as db:
        return await auth.authenticate(db, token=token, now=at or env.now())


async def staff(env: Env, role: StaffRole = StaffRole.ops, username: str = "ops-1") -> StaffUser:
    async with env.tx() as db:
        return await auth.create_staff(db, username=username, display_name="运维", role=role, password=PASSWORD, now=env.now(), actor=Actor("system", "test"))


async def candidate_token(env: Env, candidate: Candidate) -> auth.IssuedToken:
    async with env.tx() as db:
        return await auth.issue_token(db, role=Role.candidate, now=env.now(), ttl=POLICY.token_ttl, candidate_id=candidate.id)


async def test_a_token_names_its_candidate_until_it_expires(scene: Scene, env: Env) -> None:
    issued = await candidate_token(env, scene.candidate)
    assert issued.token.startswith("dcc_") and issued.expires_at == T0 + POLICY.token_ttl
    found = await principal(env, issued.token, T0 + POLICY.token_ttl - S)
    assert found is not None and found.role is Role.candidate and found.candidate is not None and found.candidate.id == scene.candidate.id
    assert found.actor == Actor("candidate", str(scene.candidate.id))
    assert await principal(env, issued.token, T0 + POLICY.token_ttl) is None
    assert await principal(env, "dcc_unknown") is None


async def test_a_revoked_token_names_no_one(scene: Scene, env: Env) -> None:
    issued = await candidate_token(env, scene.candidate)
    found = await principal(env, issued.token)
    assert found is not None
    async with env.tx() as db:
        await auth.revoke(db, token_id=found.token_id, now=env.now())
        await auth.revoke(db, token_id=uuid.uuid4(), now=env.now())  # unknown: nothing to do
    assert await principal(env, issued.token) is None


async def test_a_device_token_names_the_phone_and_its_candidate_until_superseded(scene: Scene, env: Env) -> None:
    device, issued = await env.device(scene.candidate, scene.sitting_id, DeviceRole.main)
    found = await principal(env, issued.token)
    assert found is not None and found.role is Role.device
    assert (found.device.id, found.candidate.id) == (device.id, scene.candidate.id)  # type: ignore[union-attr]
    assert found.actor == Actor("device", str(device.id))
    async with env.tx() as db:  # superseded (even with its token left unrevoked) names no one
        await db.execute(update(type(device)).where(type(device).id == device.id).values(superseded_at=env.now()))
    assert await principal(env, issued.token) is None


async def test_a_staff_token_ends_with_the_account_or_its_role(env: Env) -> None:
    person = await staff(env)
    issued = await login(env, "ops-1", PASSWORD)
    found = await principal(env, issued.token)
    assert found is not None and found.role is Role.ops and found.staff is not None and found.staff.id == person.id
    async with env.tx() as db:
        await db.execute(update(StaffUser).where(StaffUser.id == person.id).values(role=StaffRole.reviewer))
    assert await principal(env, issued.token) is None
    async with env.tx() as db:
        await db.execute(update(StaffUser).where(StaffUser.id == person.id).values(role=StaffRole.ops, disabled_at=env.now()))
    assert await principal(env, issued.token) is None


async def test_authenticate_device(scene: Scene, env: Env) -> None:
    device, issued = await env.device(scene.candidate, scene.sitting_id, DeviceRole.aux)
    mine = await candidate_token(env, scene.candidate)
    async with env.tx() as db:
        assert (await auth.authenticate_device(db, token=issued.token, now=env.now())).id == device.id
        for token in (None, ""):
            with pytest.raises(errors.NotAuthenticated):
                await auth.authenticate_device(db, token=token, now=env.now())
        with pytest.raises(errors.InvalidToken):
            await auth.authenticate_device(db, token="dcd_unknown", now=env.now())
        with pytest.raises(errors.InvalidToken):
            await auth.authenticate_device(db, token=issued.token, now=issued.expires_at)
        with pytest.raises(errors.Forbidden):
            await auth.authenticate_device(db, token=mine.token, now=env.now())


async def login(env: Env, username: str, password: str) -> auth.IssuedToken:
    async with env.tx() as db:
        return await auth.staff_login(db, username=username, password=password, client=CLIENT, now=env.now(), policy=POLICY, secret_key=env.settings.secret_key)


async def attempts(env: Env) -> int:
    async with env.tx() as db:
        return await db.scalar(select(func.count()).select_from(LoginAttempt)) or 0


async def test_failed_log_ins_are_kept_and_refuse_further_tries_for_the_window(env: Env) -> None:
    await staff(env)
    first = env.now()
    for _ in range(POLICY.max_failures):
        with pytest.raises(errors.LoginFailed):
            await login(env, "ops-1", "wrong-passw0rd")  # the failure is committed, though the request fails
        env.clock.advance(seconds=10)
    assert await attempts(env) == POLICY.max_failures
    with pytest.raises(errors.TooManyLoginAttempts) as refused:
        await login(env, "ops-1", PASSWORD)  # even the right password
    assert refused.value.headers == {"Retry-After": str(int((first + POLICY.window - env.now()).total_seconds()) + 1)}
    env.clock.set(first + POLICY.window)  # the oldest failure has left the window
    await login(env, "ops-1", PASSWORD)
    assert await attempts(env) == 0  # a success clears them


async def test_an_unknown_account_fails_like_a_wrong_password(env: Env) -> None:
    for _ in range(POLICY.max_failures):
        with pytest.raises(errors.LoginFailed):
            await login(env, "nobody", PASSWORD)
    with pytest.raises(errors.TooManyLoginAttempts):
        await login(env, "nobody", PASSWORD)


async def test_a_disabled_account_cannot_log_in(env: Env) -> None:
    person = await staff(env)
    async with env.tx() as db:
        await db.execute(update(StaffUser).where(StaffUser.id == person.id).values(disabled_at=env.now()))
    with pytest.raises(errors.LoginFailed):
        await login(env, "ops-1", PASSWORD)


async def candidate_login(env: Env, identifier: str, secret: str, exam_id: uuid.UUID | None = None) -> auth.IssuedToken:
    async with env.tx() as db:
        return await auth.candidate_login(
            db, identifier=identifier, secret=secret, exam_id=exam_id, client=CLIENT, now=env.now(), policy=POLICY, secret_key=env.settings.secret_key
        )


async def test_candidates_log_in_by_id_number_or_phone(scene: Scene, env: Env) -> None:
    for identifier in (id_number(1), id_number(1).lower(), phone(1), "+86 139-0000-0001"):
        issued = await candidate_login(env, identifier, PASSWORD)
        found = await principal(env, issued.token)
        assert found is not None and found.candidate is not None and found.candidate.id == scene.candidate.id


async def test_every_spelling_of_an_identifier_shares_one_allowance(scene: Scene, env: Env) -> None:
    # Each spelling (and the ID number) finds the same account, so each failure counts against it from this client.
    for identifier, exam_id in (("13900000001", None), ("139-0000-0001", scene.candidate.exam_id), ("+86 13900000001", None)):
        with pytest.raises(errors.LoginFailed):
            await candidate_login(env, identifier, "wrong-passw0rd", exam_id)
    with pytest.raises(errors.TooManyLoginAttempts):
        await candidate_login(env, " 139 0000 0001 ", PASSWORD)


async def test_one_person_on_two_exams_chooses_the_exam(env: Env) -> None:
    first, second = await env.exam(), await env.exam(title="另一考试")
    async with env.tx() as db:
        for exam in (first, second):
            await candidates.register(db, exam=exam, name="张三", id_number=id_number(1), phone=phone(1), password=PASSWORD, now=env.now(), secret_key=env.settings.secret_key)
    with pytest.raises(errors.ExamChoiceRequired) as refused:
        await candidate_login(env, id_number(1), PASSWORD)
    assert refused.value.details == {"exam_ids": sorted([str(first.id), str(second.id)])}
    issued = await candidate_login(env, id_number(1), PASSWORD, second.id)
    found = await principal(env, issued.token)
    assert found is not None and found.candidate is not None and found.candidate.exam_id == second.id


async def test_a_new_password_ends_the_candidates_other_log_ins_not_its_phones(scene: Scene, env: Env) -> None:
    current, other = await candidate_token(env, scene.candidate), await candidate_token(env, scene.candidate)
    _, phone_token = await env.device(scene.candidate, scene.sitting_id, DeviceRole.main)
    me = await principal(env, current.token)
    assert me is not None

    async def set_password(old: str, new: str) -> None:
        async with env.tx() as db:
            mine = await db.get_one(Candidate, scene.candidate.id)
            await auth.set_candidate_password(db, candidate=mine, current=old, new=new, secret_key=env.settings.secret_key, now=env.now(), token_id=me.token_id)

    with pytest.raises(errors.LoginFailed):
        await set_password("wrong-passw0rd", "N3w-password")
    with pytest.raises(errors.WeakPassword):
        await set_password(PASSWORD, "short")
    assert await principal(env, other.token) is not None  # refused changes end nothing
    await set_password(PASSWORD, "N3w-password")
    assert await principal(env, current.token) is not None
    assert await principal(env, other.token) is None
    assert await principal(env, phone_token.token) is not None
    await candidate_login(env, phone(1), "N3w-password")
    with pytest.raises(errors.LoginFailed):
        await candidate_login(env, phone(1), PASSWORD)


async def test_create_staff(env: Env) -> None:
    await staff(env)
    with pytest.raises(errors.UsernameTaken):
        await staff(env, StaffRole.reviewer)
    async with env.tx() as db:
        with pytest.raises(errors.WeakPassword):
            await auth.create_staff(db, username="r", display_name="r", role=StaffRole.reviewer, password="password", now=env.now(), actor=OPS)
        assert [s.username for s in await auth.list_staff(db)] == ["ops-1"]
