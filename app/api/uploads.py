"""The tus server at /api/v1/uploads/ with the exam's rules plugged in (app.services.recordings.recordings).

The protocol answers with its own status codes and headers (DESIGN.md, Contracts); a refusal from our rules keeps
our error code and texts with the status the hooks give it. Verification (PyAV) runs when the last byte is in,
before the final PATCH is answered, so the phone's next look at its sitting already says verified or failed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import anyio
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request

from app import errors
from app.db import transaction
from app.logs import get_logger
from app.models import UploadRow
from app.services.recordings import recordings
from app.services.recordings.media import MediaInfo, MediaUnreadable, probe
from app.uploads import CreateDecision, ErrorSpec, Principal, TusApp, TusConfig, TusError, TusHooks, Upload

log = get_logger(__name__)

MOUNT = "/api/v1/uploads"
# 10 min of 720p is ~150 MB; anything near this is not a phone recording.
MAX_RECORDING_BYTES = 4 * 1024**3


def _tus_error(exc: errors.DualcamError) -> TusError:
    return TusError(ErrorSpec(status=exc.status, code=exc.code, message_en=exc.message_en, message=exc.message))


def build_tus(app: FastAPI) -> TusApp:
    """The TusApp for `app`; its state and store are attached in the lifespan (`attach_tus`)."""
    state = app.state

    def now():  # type: ignore[no-untyped-def]
        return state.clock.now()

    async def authorize(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else None
        try:
            async with transaction(state.sessionmaker) as db:
                uploader = await recordings.uploader_for(db, token=token, now=now())
        except errors.DualcamError as exc:
            raise _tus_error(exc) from None
        return Principal(owner=uploader.owner, data=uploader)

    async def pre_create(principal: Principal, metadata: Mapping[str, str], length: int | None) -> CreateDecision:
        for attempt in range(2):
            try:
                async with transaction(state.sessionmaker) as db:
                    plan = await recordings.plan_upload(db, uploader=principal.data, metadata=metadata, now=now())
                break
            except IntegrityError:  # two creations for one role at once: the second finds the first's recording
                if attempt:
                    raise
            except errors.DualcamError as exc:
                raise _tus_error(exc) from None
        return CreateDecision(
            upload_id=plan.upload_id,
            existing_upload_id=plan.upload_id if plan.existing else None,
            expires_at=plan.expires_at,
            subject=plan.subject,
        )

    async def pre_write(principal: Principal, upload: Upload) -> None:
        if upload.complete:
            return  # every byte is in (a retried final PATCH): the protocol answers with the offset, writes nothing
        try:
            async with transaction(state.sessionmaker) as db:
                await recordings.may_write(db, uploader=principal.data, now=now())
        except errors.DualcamError as exc:
            raise _tus_error(exc) from None

    async def pre_terminate(principal: Principal, upload: Upload) -> None:
        # A phone may abandon an unfinished upload (it then sends the recording again); finished ones are evidence.
        if upload.finished_at is not None:
            raise _tus_error(errors.Forbidden())

    async def post_finish(upload: Upload) -> None:
        await verify(app, upload.id)

    return TusApp(
        hooks=TusHooks(authorize=authorize, pre_create=pre_create, pre_write=pre_write, pre_terminate=pre_terminate, post_finish=post_finish),
        config=TusConfig(max_size=MAX_RECORDING_BYTES),
        clock=state.clock,
    )


async def verify(app: FastAPI, upload_id: str) -> None:
    """Probe a finished upload and settle its recording (idempotent: the scheduler calls it for leftovers)."""
    state = app.state
    tus: TusApp = state.tus
    async with transaction(state.sessionmaker) as db:
        if await recordings.pending_recording(db, upload_id) is None:
            return
    upload = await tus.get(upload_id)
    if upload is None or upload.finished_at is None:
        return
    info: MediaInfo | None = None
    failure: str | None = None
    async with _local_copy(tus, upload, state.settings.data_dir) as path:
        try:
            info = await anyio.to_thread.run_sync(probe, path)
        except MediaUnreadable as exc:
            failure = exc.reason
    async with transaction(state.sessionmaker, state.hub) as db:
        row = await db.get(UploadRow, upload_id)
        assert row is not None
        recording = await recordings.settle(db, upload=row, info=info, failure=failure, now=state.clock.now())
    if recording is not None:
        log.info("recording.settled", upload_id=upload_id, status=recording.status.value, duration=recording.duration_seconds, reason=recording.failure_reason)


@contextlib.asynccontextmanager
async def _local_copy(tus: TusApp, upload: Upload, data_dir: Path) -> AsyncIterator[Path]:
    """The upload as a local file: in place for the local store, else a scratch copy (removed afterwards)."""
    local = tus.local_path(upload)
    if local is not None:
        yield local
        return
    path = recordings.scratch_path(data_dir, upload.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        async with await anyio.open_file(path, "wb") as out:
            async for chunk in tus.read(upload):
                await out.write(chunk)
        yield path
    finally:
        path.unlink(missing_ok=True)


async def maintain(app: FastAPI) -> None:
    """One scheduler pass over the uploads: expire the ones past their deadline, finish and verify leftovers of a
    crash. Only the scheduler's leader runs it."""
    tus: TusApp = app.state.tus
    await tus.expire_uploads()
    await tus.finish_pending()
    async with transaction(app.state.sessionmaker) as db:
        pending = await recordings.unverified_finished(db)
    for upload_id in pending:
        await verify(app, upload_id)

