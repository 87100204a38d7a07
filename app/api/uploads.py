"""The tus server at /api/v1/uploads/ with the exam's rules plugged in (app.services.recordings).

The protocol answers with its own status codes and headers (DESIGN.md, Contracts); a refusal from our rules keeps
our error code and texts with the status the hooks give it. Verification (PyAV) runs when the last byte is in,
before the final PATCH is answered, so the phone's next look at its sitting already says verified or failed.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request

from app import errors
from app.db import transaction
from app.logs import get_logger
from app.security import bearer_token
from app.services.recordings import recordings, verification
from app.services.sitting import staff_feed
from app.uploads import CreateDecision, ErrorSpec, Caller, TusApp, TusConfig, TusError, TusHooks, Upload

log = get_logger(__name__)

MOUNT = "/api/v1/uploads"
# 10 min of 720p is ~150 MB; anything near this is not a phone recording.
MAX_RECORDING_BYTES = 4 * 1024**3


def _tus_error(exc: errors.DualcamError) -> TusError:
    return TusError(ErrorSpec(status=exc.status, code=exc.code, message_en=exc.message_en, message=exc.message, details=exc.details))


def build_tus(app: FastAPI) -> TusApp:
    """The TusApp for `app`; its state and store are attached in the lifespan (`attach_tus`)."""
    state = app.state

    def now():  # type: ignore[no-untyped-def]
        return state.clock.now()

    async def authorize(request: Request) -> Caller:
        token = bearer_token(request.headers.get("authorization"))
        try:
            async with transaction(state.sessionmaker) as db:
                uploader = await recordings.uploader_for(db, token=token, now=now())
        except errors.DualcamError as exc:
            raise _tus_error(exc) from None
        return Caller(owner=uploader.owner, data=uploader)

    async def pre_create(principal: Caller, metadata: Mapping[str, str], length: int | None) -> CreateDecision:
        for attempt in range(2):
            try:
                async with transaction(state.sessionmaker) as db:
                    plan = await recordings.plan_upload(db, uploader=principal.data, metadata=metadata, uploads=state.tus, now=now())
                break
            except IntegrityError:  # two creations for one role at once: the second finds the first's recording
                if attempt:
                    raise
            except errors.DualcamError as exc:
                raise _tus_error(exc) from None
        return CreateDecision(
            # The recording's upload: answered if it exists (a phone that lost its URL, or a concurrent POST that
            # made it first), made under this id otherwise.
            upload_id=plan.upload_id,
            existing_upload_id=plan.upload_id,
            expires_at=plan.expires_at,
            subject=plan.subject,
        )

    async def pre_write(principal: Caller, upload: Upload) -> None:
        if upload.complete:
            return  # every byte is in (a retried final PATCH): the protocol answers with the offset, writes nothing
        try:
            async with transaction(state.sessionmaker) as db:
                await recordings.may_write(db, uploader=principal.data, now=now())
        except errors.DualcamError as exc:
            raise _tus_error(exc) from None

    async def pre_terminate(principal: Caller, upload: Upload) -> None:
        # A phone may abandon an unfinished upload (it then sends the recording again); finished ones are evidence.
        if upload.finished_at is not None:
            raise _tus_error(errors.Forbidden())

    async def post_write(principal: Caller, upload: Upload) -> None:
        # Staff watching the session see the bytes arrive.
        async with transaction(state.sessionmaker, state.hub) as db:
            await staff_feed.changed_sitting(db, sitting_id=principal.data.sitting_id, what="upload")

    async def post_finish(upload: Upload) -> None:
        state.verifier.submit(upload.id)

    return TusApp(
        hooks=TusHooks(authorize=authorize, pre_create=pre_create, pre_write=pre_write, pre_terminate=pre_terminate, post_write=post_write, post_finish=post_finish),
        # Finishes cut short are the scheduler's after a while; meanwhile the process that took the last byte has them.
        config=TusConfig(max_size=MAX_RECORDING_BYTES, leftover_after_s=verification.LEFTOVER_AFTER.total_seconds()),
        clock=state.clock,
    )
