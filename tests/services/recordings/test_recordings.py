"""recordings/recordings: bytes are taken from answer start until the deadline (a terminated sitting's too, an absent
one has none); one recording per sitting and role, the same upload answered on a repeat and a new one after a failed
verification; both verified make the sitting uploaded as of the later upload's last byte."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest
from sqlalchemy import select

from app import errors
from app.models import DeviceRole, Recording, RecordingStatus, UploadRow
from app.services.recordings import recordings
from app.services.recordings.media import MediaInfo
from app.services.recordings.recordings import Uploader
from app.services.sitting.lifecycle import SittingState
from tests.services.conftest import DEADLINE, ENDS, READY_AT, STARTS, Env, M, S, Scene

pytestmark = pytest.mark.anyio

WINDOW = [
    # (label, facts, now, error)
    ("before answering", {"ready_at": READY_AT}, STARTS - S, errors.RecordingNotOpen),
    ("at answer start", {"ready_at": READY_AT}, STARTS, None),
    ("recorded", {"ready_at": READY_AT}, ENDS + M, None),
    ("the deadline's last second", {"ready_at": READY_AT}, DEADLINE - S, None),
    ("at the deadline", {"ready_at": READY_AT}, DEADLINE, errors.UploadDeadlinePassed),
    ("terminated: still taken", {"ready_at": READY_AT, "terminated_at": STARTS + M}, STARTS + 2 * M, None),
    ("absent", {}, STARTS + M, errors.SittingAbsent),
    ("absent, before answering says not open", {}, STARTS - S, errors.RecordingNotOpen),
    ("absent, after the deadline says passed", {}, DEADLINE, errors.UploadDeadlinePassed),
]


@pytest.mark.parametrize(("label", "facts", "now", "error"), WINDOW, ids=[w[0] for w in WINDOW])
async def test_check_window(scene: Scene, label: str, facts: dict[str, datetime], now: datetime, error: type[errors.DualcamError] | None) -> None:
    await scene.env.set_facts(scene.sitting_id, **facts)
    view = await scene.view(now)
    if error is None:
        recordings.check_window(view, now)
    else:
        with pytest.raises(error):
            recordings.check_window(view, now)


async def uploader(scene: Scene, role: DeviceRole = DeviceRole.main) -> Uploader:
    device, _ = await scene.env.device(scene.candidate, scene.sitting_id, role)
    return Uploader(device.id, scene.sitting_id, role)


async def plan(env: Env, who: Uploader, **metadata: str) -> recordings.UploadPlan:
    async with env.tx() as db:
        return await recordings.plan_upload(db, uploader=who, metadata=metadata, uploads=env.app.state.tus, now=env.now())


async def upload_row(env: Env, upload_id: str, owner: str, **fields: object) -> None:
    async with env.tx() as db:
        db.add(UploadRow(id=upload_id, owner=owner, subject=owner, upload_length=100, storage_key=upload_id, chain_sha256="0" * 64, created_at=env.now(), updated_at=env.now(), **fields))


async def recording(env: Env, sitting_id: uuid.UUID, role: DeviceRole) -> Recording:
    async with env.tx() as db:
        return (await db.scalars(select(Recording).where(Recording.sitting_id == sitting_id, Recording.role == role))).one()


async def test_plan_upload_answers_the_same_upload_on_a_repeat(scene: Scene, env: Env) -> None:
    main = await uploader(scene)
    await scene.into(SittingState.answering)
    first = await plan(env, main, sitting_id=str(scene.sitting_id), role="main")
    assert (first.expires_at, first.subject) == (DEADLINE, f"sitting:{scene.sitting_id}:main")
    assert main.owner == first.subject
    again = await plan(env, main)  # the upload row was never made (a creation that failed half-way): the same id
    assert again.upload_id == first.upload_id
    await upload_row(env, first.upload_id, main.owner)
    resumed = await plan(env, main)
    assert resumed.upload_id == first.upload_id  # the tus server answers the upload under that id as it is
    stored = await recording(env, scene.sitting_id, DeviceRole.main)
    assert (stored.upload_id, stored.status, stored.attempts) == (first.upload_id, RecordingStatus.receiving, 1)
    assert len(await env.audit("recording.create")) == 1


async def test_a_phone_logging_in_again_keeps_the_roles_recording(scene: Scene, env: Env) -> None:
    first_phone = await uploader(scene)
    await scene.into(SittingState.answering)
    made = await plan(env, first_phone)
    await upload_row(env, made.upload_id, first_phone.owner)
    second_phone = await uploader(scene)
    assert second_phone.device_id != first_phone.device_id
    assert (await plan(env, second_phone)).upload_id == made.upload_id
    aux = await plan(env, await uploader(scene, DeviceRole.aux))
    assert aux.upload_id != made.upload_id


@pytest.mark.parametrize(("label", "gone"), [("failed verification", False), ("the phone deleted its upload", True)])
async def test_plan_upload_makes_a_new_upload_after_a_failed_one(scene: Scene, env: Env, label: str, gone: bool) -> None:
    main = await uploader(scene)
    await scene.into(SittingState.recorded)
    first = await plan(env, main)
    await upload_row(env, first.upload_id, main.owner, gone_at=env.now() if gone else None)
    if not gone:
        async with env.tx() as db:
            row = await db.get_one(Recording, (await recording(env, scene.sitting_id, DeviceRole.main)).id)
            row.status, row.failure_reason = RecordingStatus.failed, "no video stream"
    again = await plan(env, main)
    assert again.upload_id != first.upload_id
    stored = await recording(env, scene.sitting_id, DeviceRole.main)
    assert (stored.upload_id, stored.status, stored.failure_reason, stored.attempts) == (again.upload_id, RecordingStatus.receiving, None, 2)
    (entry,) = await env.audit("recording.resend")
    assert entry.details == {"previous_upload_id": first.upload_id, "upload_id": again.upload_id}
    assert await env.row(UploadRow, first.upload_id)  # the old upload stays as it was


@pytest.mark.parametrize("metadata", [{"sitting_id": str(uuid.UUID(int=1))}, {"role": "aux"}], ids=["another sitting", "another role"])
async def test_plan_upload_refuses_metadata_naming_another_recording(scene: Scene, env: Env, metadata: dict[str, str]) -> None:
    main = await uploader(scene)
    await scene.into(SittingState.answering)
    with pytest.raises(errors.RecordingNotYours):
        await plan(env, main, **metadata)
    async with env.tx() as db:
        assert (await db.scalars(select(Recording))).all() == []


async def test_plan_upload_checks_the_window(scene: Scene, env: Env) -> None:
    main = await uploader(scene)
    with pytest.raises(errors.RecordingNotOpen):
        await plan(env, main)
    await scene.into(SittingState.absent)
    with pytest.raises(errors.SittingAbsent):
        await plan(env, main)


INFO = MediaInfo(container="matroska,webm", duration_seconds=590.0, streams=[{"type": "video", "codec": "vp8", "packets": 10}], packets=10)


async def settle(env: Env, upload_id: str, info: MediaInfo | None, failure: str | None = None) -> Recording | None:
    async with env.tx() as db:
        tus = env.app.state.tus
        upload = await tus.get(upload_id)
        assert upload is not None
        return await recordings.settle(db, upload=upload, info=info, failure=failure, uploads=tus, now=env.now())


async def test_both_verified_make_the_sitting_uploaded_as_of_the_later_last_byte(scene: Scene, env: Env) -> None:
    main, aux = await uploader(scene), await uploader(scene, DeviceRole.aux)
    await scene.into(SittingState.answering)  # 09:01
    plans = {role: await plan(env, who) for role, who in ((DeviceRole.main, main), (DeviceRole.aux, aux))}
    last_bytes = {DeviceRole.main: ENDS + 30 * S, DeviceRole.aux: ENDS + 50 * S}
    for role, made in plans.items():
        owner = (main if role is DeviceRole.main else aux).owner
        await upload_row(env, made.upload_id, owner, upload_offset=100, completed_at=last_bytes[role], finished_at=last_bytes[role], sha256="ab" * 32)
    env.clock.set(DEADLINE + 3 * 60 * M)  # verification ran late (an outage): the bytes were in in time
    verified = await settle(env, plans[DeviceRole.main].upload_id, INFO)
    assert verified is not None and (verified.status, verified.duration_seconds, verified.size) == (RecordingStatus.verified, 590.0, 100)
    assert (await scene.view()).sitting.uploaded_at is None  # one of two
    await settle(env, plans[DeviceRole.aux].upload_id, INFO)
    view = await scene.view()
    assert (view.state, view.sitting.uploaded_at) == (SittingState.uploaded, ENDS + 50 * S)
    again = await settle(env, plans[DeviceRole.aux].upload_id, None, "late duplicate")  # idempotent
    assert again is not None and again.status is RecordingStatus.verified


async def test_a_deadline_judged_while_the_verifications_waited_does_not_stand(scene: Scene, env: Env) -> None:
    main, aux = await uploader(scene), await uploader(scene, DeviceRole.aux)
    await scene.into(SittingState.answering)
    plans = {role: await plan(env, who) for role, who in ((DeviceRole.main, main), (DeviceRole.aux, aux))}
    for role, made in plans.items():
        owner = (main if role is DeviceRole.main else aux).owner
        await upload_row(env, made.upload_id, owner, upload_offset=100, completed_at=DEADLINE - S, finished_at=DEADLINE - S, sha256="ab" * 32)
    env.clock.set(DEADLINE + 2 * S)
    await env.app.state.scheduler.tick()  # the deadline's pass: the recordings are still queued for their probe
    view = await scene.view()
    assert (view.state, view.sitting.outcome) == (SittingState.incomplete, "incomplete")
    for made in plans.values():
        await settle(env, made.upload_id, INFO)
    view = await scene.view()
    assert (view.state, view.sitting.outcome, view.sitting.uploaded_at) == (SittingState.uploaded, None, DEADLINE - S)


async def test_two_verifications_of_one_upload_at_once_settle_it_once(scene: Scene, env: Env) -> None:
    """The final PATCH's verification and the scheduler's pass over leftovers may probe the same upload together."""
    main = await uploader(scene)
    await scene.into(SittingState.recorded)
    made = await plan(env, main)
    await upload_row(env, made.upload_id, main.owner, upload_offset=100, completed_at=env.now(), finished_at=env.now(), sha256="ab" * 32)
    first, second = await asyncio.gather(settle(env, made.upload_id, INFO), settle(env, made.upload_id, INFO))
    assert first is not None and second is not None and first.status is second.status is RecordingStatus.verified
    assert len(await env.audit("recording.verified")) == 1


async def test_a_failed_verification_is_recorded_and_the_sitting_waits(scene: Scene, env: Env) -> None:
    main = await uploader(scene)
    await scene.into(SittingState.recorded)
    made = await plan(env, main)
    await upload_row(env, made.upload_id, main.owner, upload_offset=100, completed_at=env.now(), finished_at=env.now())
    failed = await settle(env, made.upload_id, None, "no video stream")
    assert failed is not None and (failed.status, failed.failure_reason) == (RecordingStatus.failed, "no video stream")
    assert (await scene.view()).state is SittingState.recorded
    async with env.tx() as db:
        assert await recordings.pending_recording(db, made.upload_id) is None
        with pytest.raises(errors.RecordingNotFound):
            await recordings.readable(db, uuid.uuid4(), uploads=env.app.state.tus)
        assert (await recordings.readable(db, failed.id, uploads=env.app.state.tus))[0].id == failed.id
