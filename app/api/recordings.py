"""Recordings for ops and reviewers: progress and evidence per sitting, and the bytes through signed links."""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from app import errors
from app.api.deps import DB, Now, Scope, SettingsDep, Staff, Uploads
from app.models import RecordingStatus
from app.schemas.recordings import StaffRecordingOut
from app.services.recordings import links, playback, progress, recordings
from app.services.sitting import sittings
from app.services.audit import record
from app.uploads import TusApp

router = APIRouter(prefix="/api/v1", tags=["recordings"])

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


@router.get(
    "/ops/sittings/{sitting_id}/recordings",
    response_model=list[StaffRecordingOut],
    responses=errors.responses(errors.SittingNotFound),
    tags=["ops: sessions"],
)
async def sitting_recordings(
    sitting_id: uuid.UUID, principal: Staff, scope: Scope, db: DB, now: Now, settings: SettingsDep, uploads: Uploads
) -> list[StaffRecordingOut]:
    """Main and aux recordings of a sitting: progress, evidence, and a link valid for `recording_link_seconds`
    once every byte is in (each link handed out is audited)."""
    timezone = (await sittings.load(db, sitting_id=sitting_id, now=now, scope=scope)).timezone
    out = []
    for arrived in await progress.for_sitting(db, sitting_id, uploads=uploads):
        link = None
        rec = arrived.recording
        if rec is not None and rec.status is not RecordingStatus.receiving:
            link = links.link_for(rec, secret_key=settings.secret_key, now=now, ttl=settings.recording_link_timedelta)
            record(db, at=now, actor=principal.actor, action="recording.link", target_kind="recording", target_id=rec.id, details={"expires_at": link.expires_at.isoformat()})
        out.append(StaffRecordingOut.staff_view(arrived, timezone, link))
    return out


_CONTENT_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"video/webm": {}}, "description": "The recording"},
    206: {"content": {"video/webm": {}}, "description": "A byte range of it (Range: bytes=…)"},
    **errors.responses(
        errors.RecordingLinkInvalid, errors.RecordingLinkExpired, errors.RecordingNotFound, errors.RecordingNotFinished, errors.RangeNotSatisfiable
    ),
}


@router.get("/recordings/{recording_id}/content", response_class=StreamingResponse, responses=_CONTENT_RESPONSES, openapi_extra={"security": []})
async def recording_content(
    recording_id: uuid.UUID,
    request: Request,
    db: DB,
    now: Now,
    settings: SettingsDep,
    expires: int = Query(description="Unix time the link stops working"),
    signature: str = Query(max_length=64),
) -> StreamingResponse:
    """The recording to watch, with Range requests for seeking: its playback copy (the same packets with a
    duration and cues) once made, else the original. Needs no login: the link's signature and expiry are the
    authorization, so a video element can play it."""
    links.check_link(secret_key=settings.secret_key, recording_id=recording_id, expires=expires, signature=signature, now=now)
    return await _serve(request, db, recording_id, original=False)


@router.get("/recordings/{recording_id}/original", response_class=StreamingResponse, responses=_CONTENT_RESPONSES, openapi_extra={"security": []})
async def recording_original(
    recording_id: uuid.UUID,
    request: Request,
    db: DB,
    now: Now,
    settings: SettingsDep,
    expires: int = Query(description="Unix time the link stops working"),
    signature: str = Query(max_length=64),
) -> StreamingResponse:
    """The untouched bytes the phone sent (their sha256 is the evidence), as a download; Range as for /content."""
    links.check_link(secret_key=settings.secret_key, recording_id=recording_id, expires=expires, signature=signature, now=now)
    return await _serve(request, db, recording_id, original=True)


async def _serve(request: Request, db: DB, recording_id: uuid.UUID, *, original: bool) -> StreamingResponse:
    tus: TusApp = request.app.state.tus
    recording, upload = await recordings.readable(db, recording_id, uploads=tus)
    copy = None if original else playback.stored(recording)
    # Files are named by the recording, never the sitting: graders watch through these same links, blind.
    if copy is not None:
        size, media_type, name = copy.offset, "video/webm", f"{recording.role.value}-{recording.id}.webm"
        read = functools.partial(request.app.state.playback.read, copy)
    else:
        filetype = str(upload.metadata.get("filetype") or "video/webm")
        media_type = filetype if re.fullmatch(r"(video|audio)/[\w.+-]+", filetype) else "application/octet-stream"
        size, name = upload.offset, f"{recording.role.value}-{recording.id}{'-original' if original else ''}.webm"
        read = functools.partial(tus.read, upload)
    start, end = _range(request.headers.get("range"), size)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in read(start, end):
            yield chunk

    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'{"attachment" if original else "inline"}; filename="{name}"',
    }
    status = 200
    if request.headers.get("range") and (start, end) != (0, size):
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(body(), status_code=status, media_type=media_type, headers=headers)


def _range(header: str | None, size: int) -> tuple[int, int]:
    """[start, end) for one `bytes=` range; anything else means the whole file (RFC 9110 lets a server ignore it)."""
    match = _RANGE.fullmatch(header.strip()) if header else None
    if match is None or match.groups() == ("", ""):
        return 0, size
    first, last = match.groups()
    if first == "":  # the last N bytes
        n = int(last)
        if n == 0:
            raise errors.RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
        return max(0, size - n), size
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    if start >= size or end <= start:
        raise errors.RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, end
