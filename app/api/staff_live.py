"""Staff watching a session live: a WebSocket at /api/v1/ops/sessions/{id}/live (the staff token in `?token=`, as a
browser cannot set a header on a socket).

The socket says only that something changed — `{"type": "changed", "sitting_ids": [...], "session": bool}`, where
`session` means a phase of the whole session — and the console fetches the dashboard again, through the same scope
checks as every staff request. Notices arriving within `COALESCE_SECONDS` go out as one frame, so the thousand state
changes of a phase boundary cost each watcher one message. It works through the hub, so with Redis a proctor's
socket on one replica hears the phones on every other.

The caller's right to watch is checked again before every frame and every RECHECK_SECONDS, and a log-out closes the
socket at once (its token's hub channel says so): a token that expires, is revoked or loses the exam stops the feed.

Close codes: 4401 no valid staff token · 4404 no such session (or not one of the reviewer's exams)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from app import errors, metrics
from app.adapters.hub import Envelope
from app.db import transaction
from app.logs import get_logger
from app.security import bearer_token
from app.models import Role
from app.services.auth import authenticate, token_channel
from app.services.exam import sessions
from app.services.scope import of_staff
from app.services.sitting.channels import session_channel, staff_session_channel

log = get_logger(__name__)
router = APIRouter()

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403  # a grader: graders never see a session's candidates
CLOSE_NOT_FOUND = 4404
COALESCE_SECONDS = 0.25
MAX_IDS = 100  # more changed at once: the console refetches its page anyway
RECHECK_SECONDS = 30.0  # a quiet session still notices an expired token or a lost exam


class _Refused(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


async def _admit(websocket: WebSocket, session_id: uuid.UUID) -> uuid.UUID:
    """The caller's token id, when it may watch the session; else _Refused with the close code."""
    state = websocket.app.state
    token = websocket.query_params.get("token") or bearer_token(websocket.headers.get("authorization"))
    if not token:
        raise _Refused(CLOSE_UNAUTHENTICATED)
    async with transaction(state.sessionmaker) as db:
        principal = await authenticate(db, token=token, now=state.clock.now())
        if principal is None or principal.staff is None:
            raise _Refused(CLOSE_UNAUTHENTICATED)
        if principal.role not in (Role.ops, Role.reviewer):
            raise _Refused(CLOSE_FORBIDDEN)
        try:
            await sessions.get_session(db, session_id, scope=of_staff(principal.staff))
        except errors.SessionNotFound:
            raise _Refused(CLOSE_NOT_FOUND) from None
    return principal.token_id


def _batch(first: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    ids: list[str] = []
    whole = False
    for message in (first, *messages):
        if message.get("type") == "phase" and "sitting_id" not in message:
            whole = True
        elif (sitting_id := message.get("sitting_id")) and sitting_id not in ids:
            ids.append(sitting_id)
    return {"type": "changed", "sitting_ids": ids[:MAX_IDS], "session": whole or len(ids) > MAX_IDS}


class _Notices:
    """The socket's hub sink: notices wait in a bounded queue; past the bound they are dropped and the next frame
    says the whole session changed, so a slow reader refetches instead of missing a change."""

    def __init__(self, size: int = 1024) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(size)
        self.overflowed = False

    def offer(self, envelope: Envelope) -> None:
        try:
            self.queue.put_nowait(envelope.message)
        except asyncio.QueueFull:
            metrics.hub_dropped.inc()
            self.overflowed = True


async def _forward(websocket: WebSocket, session_id: uuid.UUID, notices: _Notices) -> None:
    while True:
        first = await notices.queue.get()
        await asyncio.sleep(COALESCE_SECONDS)  # what else arrives meanwhile goes in the same frame
        more = [notices.queue.get_nowait() for _ in range(notices.queue.qsize())]
        if any(m.get("type") == "revoked" for m in (first, *more)):
            raise _Refused(CLOSE_UNAUTHENTICATED)
        await _admit(websocket, session_id)
        frame = _batch(first, more)
        if notices.overflowed:
            notices.overflowed, frame["session"] = False, True
        await websocket.send_json(frame)


async def _recheck(websocket: WebSocket, session_id: uuid.UUID) -> None:
    while True:
        await asyncio.sleep(RECHECK_SECONDS)
        await _admit(websocket, session_id)


async def _until_closed(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()  # the console sends nothing that matters; a ping keeps proxies awake


@router.websocket("/api/v1/ops/sessions/{session_id}/live")
async def session_live(websocket: WebSocket, session_id: uuid.UUID) -> None:
    try:
        token_id = await _admit(websocket, session_id)
    except _Refused as refused:
        await websocket.close(refused.code)
        metrics.websocket_closes.labels("staff", str(refused.code)).inc()
        return
    await websocket.accept()
    metrics.websockets_open.labels("staff").inc()
    code = 1000
    try:
        hub = websocket.app.state.hub
        notices = _Notices()
        async with hub.attach(notices, staff_session_channel(session_id), session_channel(session_id), token_channel(token_id)):
            await websocket.send_json({"type": "hello", "session_id": str(session_id)})
            tasks = {
                asyncio.create_task(_forward(websocket, session_id, notices)),
                asyncio.create_task(_recheck(websocket, session_id)),
                asyncio.create_task(_until_closed(websocket)),
            }
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    exc = None if task.cancelled() else task.exception()
                    if isinstance(exc, _Refused):
                        code = exc.code
                    elif exc is not None and not isinstance(exc, WebSocketDisconnect):
                        log.warning("staff.live.ended", session_id=str(session_id), error=repr(exc))
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await websocket.close(code)
    finally:
        metrics.websockets_open.labels("staff").dec()
        metrics.websocket_closes.labels("staff", str(code)).inc()
