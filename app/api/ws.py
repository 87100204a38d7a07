"""The realtime channel: one WebSocket per phone at /api/v1/ws (token in `?token=` or a Bearer header).

Close codes: 4401 not authenticated or token invalid · 4409 superseded by a newer phone of the same role ·
4410 the sitting is over · 4408 no message within the presence timeout · 4429 too many messages waiting for this
socket (it reads too slowly) · 1009 message too large.
Protocol errors that do not end the connection come back as {"type": "error", "code", "message", "message_en"}.

Per socket: the ASGI task reads (with the presence timeout as a deadline); hub messages wait in a bounded outbox
and a writer task, started only while there is something to send, sends them in order. The hub hands every socket
of a channel the same encoded text, so an announcement to 10,000 phones is encoded once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import functools
import json
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, WebSocket
from pydantic import ValidationError
from starlette.websockets import WebSocketDisconnect

from app import errors
from app.adapters.hub import Envelope, device_channel, encode, session_channel, sitting_channel
from app.config import Settings
from app.db import transaction
from app.logs import get_logger
from app.models import Device, Role
from app.schemas.candidates import SittingOut
from app.schemas.realtime import Event, Heartbeat, Recording, TimePing
from app.services.sitting import presence, proctoring
from app.services.auth import authenticate
from app.services.exam.candidates import SittingView, view_of
from app.services.sitting.lifecycle import FINAL_STATES, Facts, SittingState, facts_of, sitting_state

log = get_logger(__name__)
router = APIRouter()

CLOSE_UNAUTHENTICATED = 4401
CLOSE_TIMEOUT = 4408
CLOSE_SUPERSEDED = 4409
CLOSE_SITTING_OVER = 4410
CLOSE_BACKLOG = 4429
CLOSE_TOO_LARGE = 1009

# Hub messages waiting for one socket: more means the phone does not read (a stalled network); it is closed with
# 4429 and reloads its state on reconnect (`hello`), rather than silently missing a message.
OUTBOX_LIMIT = 256
# A close frame to a socket whose network stalled could wait forever for buffer space: give up after this.
CLOSE_WAIT_SECONDS = 5.0


class InternalError(errors.DualcamError):
    """A message that failed for a reason of ours: the phone may retry it; the socket stays open."""

    status = 500
    code = "internal_error"
    message = "服务器处理消息时出错，请稍后重试"
    message_en = "The server failed to handle this message; try again"


class ConnectionState(enum.Enum):
    CONNECTING = "connecting"
    OPEN = "open"
    CLOSED = "closed"


_TRANSITIONS = {
    ConnectionState.CONNECTING: {ConnectionState.OPEN, ConnectionState.CLOSED},
    ConnectionState.OPEN: {ConnectionState.CLOSED},
    ConnectionState.CLOSED: set(),
}


def _ms(moment: datetime) -> float:
    return round(moment.timestamp() * 1000, 3)


class Connection:
    """One phone's socket. Illegal state transitions raise: a closed connection never sends again.

    Also the hub's sink for the socket's channels (`offer`)."""

    __slots__ = (
        "ws", "state", "settings", "sessionmaker", "hub", "clock", "timeout", "device", "view", "timezone",
        "last_write", "connected_at", "peer_online", "end_reason", "_outbox", "_writing", "_writer", "_closer",
        "_deadline", "_device_key", "_sitting_key", "_facts",
    )  # fmt: skip

    def __init__(self, websocket: WebSocket) -> None:
        self.ws = websocket
        self.state = ConnectionState.CONNECTING
        app = websocket.app
        self.settings: Settings = app.state.settings
        self.sessionmaker = app.state.sessionmaker
        self.hub = app.state.hub
        self.clock = app.state.clock
        self.timeout = timedelta(seconds=self.settings.presence_timeout_seconds)
        self.device: Device | None = None
        self.view: SittingView | None = None
        self.timezone = "Asia/Shanghai"
        self.last_write: datetime | None = None
        self.connected_at: datetime | None = None  # this socket's start: the device's presence is ours while it matches
        self.peer_online = False
        self.end_reason: str | None = None  # why the server ended the socket (superseded, backlog), once it did
        self._outbox: collections.deque[Envelope] = collections.deque()
        self._writing = False  # hub messages are sent only after `hello`
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._deadline: asyncio.Timeout | None = None  # the receive loop's: moved to "now" to end it from outside
        # Per message to every socket of a session: the ids as they appear in messages, and the sitting's facts.
        self._device_key = self._sitting_key = ""
        self._facts: Facts | None = None

    def _move(self, target: ConnectionState) -> None:
        if target not in _TRANSITIONS[self.state]:
            raise RuntimeError(f"websocket connection: {self.state.value} → {target.value} is not allowed")
        self.state = target

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_text(encode(message))

    async def send_text(self, text: str) -> None:
        if self.state is ConnectionState.OPEN:
            await self.ws.send_text(text)

    async def error(self, error: errors.DualcamError) -> None:
        await self.send({"type": "error", **error.body()["error"]})

    async def close(self, code: int, reason: str = "") -> None:
        if self.state is ConnectionState.CLOSED:
            return
        was_open = self.state is ConnectionState.OPEN
        self._move(ConnectionState.CLOSED)
        if was_open:
            with contextlib.suppress(Exception):  # the peer may already be gone, or its network stalled
                async with asyncio.timeout(CLOSE_WAIT_SECONDS):
                    await self.ws.close(code=code, reason=reason)

    async def end(self, reason: str, code: int) -> None:
        """The server ends this socket (from outside the receive loop): close it, then stop the receive loop."""
        if self.end_reason is None:
            self.end_reason = reason
        await self.close(code, reason)
        self._interrupt()

    def _interrupt(self) -> None:
        if self._deadline is not None:
            with contextlib.suppress(RuntimeError):  # already expiring
                self._deadline.reschedule(asyncio.get_running_loop().time())

    # --- lifecycle -------------------------------------------------------------------------------------

    async def open(self, stack: contextlib.AsyncExitStack) -> bool:
        """Accept, authenticate, subscribe (on `stack`) and mark the phone online in one transaction; then read the
        peer's presence and send `hello`.

        The state in `hello` is read *after* subscribing: a change committed before the read is in `hello`, one
        committed after it arrives as a message (e.g. both phones connecting at once, or the answer start)."""
        await self.ws.accept()
        self._move(ConnectionState.OPEN)
        token = self.ws.query_params.get("token") or _bearer(self.ws.headers.get("authorization", ""))
        if not token:
            await self.error(errors.NotAuthenticated())
            await self.close(CLOSE_UNAUTHENTICATED, "not_authenticated")
            return False
        now = self.clock.now()
        async with transaction(self.sessionmaker, self.hub) as db:
            principal = await authenticate(db, token=token, now=now)
            if principal is None or principal.role is not Role.device or principal.device is None:
                error: errors.DualcamError = errors.InvalidToken() if principal is None else errors.Forbidden()
                await self.error(error)
                await self.close(CLOSE_UNAUTHENTICATED, error.code)
                return False
            device = self.device = principal.device
            self._device_key, self._sitting_key = str(device.id), str(device.sitting_id)
            view, exam = await presence.load_view(db, sitting_id=device.sitting_id, now=now)
            self.timezone = exam.timezone
            if view.state in FINAL_STATES:
                await self._hello(view, now, peer_online=False)
                await self.error(errors.SittingClosed())
                await self.close(CLOSE_SITTING_OVER, "sitting_closed")
                return False
            channels = (sitting_channel(device.sitting_id), session_channel(view.session.id), device_channel(device.id))
            await stack.enter_async_context(self.hub.attach(self, *channels))
            view, exam = await presence.load_view(db, sitting_id=device.sitting_id, now=now)  # after subscribing
            view = await presence.connect(db, device=device, now=now, timeout=self.timeout, loaded=(view, exam))
            self.connected_at = self.last_write = now
        # The peer is read after this phone's own online state is committed: of two phones connecting at once, the
        # later commit reads the earlier one as online, and the earlier one (already subscribed) gets the later one's
        # `peer.online`. Read inside the transaction above, both could miss each other (seen on PostgreSQL).
        async with transaction(self.sessionmaker) as db:
            devices = await presence.active_devices(db, sitting_id=device.sitting_id)
        self._set_view(view_of(view.session, view.sitting, now))  # with what connecting decided (ready, terminated)
        peer = next((d for role, d in devices.items() if role is not device.role), None)
        self.peer_online = peer is not None and presence.is_online(peer, now=now, timeout=self.timeout)
        await self._hello(self.view, now, peer_online=self.peer_online)
        return True

    async def _hello(self, view: SittingView, now: datetime, *, peer_online: bool) -> None:
        assert self.device is not None
        await self.send(
            {
                "type": "hello",
                "server_time": now.isoformat(),
                "epoch_ms": _ms(now),
                "device": {"id": str(self.device.id), "role": self.device.role.value},
                "sitting": SittingOut.of(view, self.timezone, now).model_dump(mode="json"),
                "peer": {"online": peer_online},
                "heartbeat_seconds": self.settings.heartbeat_seconds,
                "presence_timeout_seconds": self.settings.presence_timeout_seconds,
            }
        )

    async def finish(self, reason: str) -> None:
        """The socket ended: the phone is offline as of now (unless it was replaced)."""
        if self.device is None or self.connected_at is None:
            return
        with contextlib.suppress(Exception):
            async with transaction(self.sessionmaker, self.hub) as db:
                device = await db.get(Device, self.device.id)
                if device is not None:
                    await presence.disconnect(
                        db, device=device, now=self.clock.now(), timeout=self.timeout, reason=reason, connected_at=self.connected_at
                    )

    # --- hub → phone -------------------------------------------------------------------------------------

    def offer(self, envelope: Envelope) -> None:
        """The hub's hand-off (synchronous, for every socket of the channel): queue it; the writer sends it."""
        if self.state is not ConnectionState.OPEN or self.end_reason is not None:
            return
        if len(self._outbox) >= OUTBOX_LIMIT:
            log.warning("ws.backlog.closed", device_id=str(self.device.id) if self.device else None, pending=len(self._outbox))
            self._outbox.clear()
            self.end_reason = "backlog"
            self._closer = asyncio.get_running_loop().create_task(self._end_backlog())
            return
        self._outbox.append(envelope)
        if self._writing and self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    def start_writing(self) -> None:
        """`hello` is out: send what arrived meanwhile, and from now on whatever arrives."""
        self._writing = True
        if self._outbox and self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._outbox:
                if not await self.deliver(self._outbox.popleft()):
                    return
        except WebSocketDisconnect:
            pass  # the phone is gone: the receive loop sees the disconnect
        except Exception:
            log.exception("ws.deliver.failed", device_id=str(self.device.id) if self.device else None)
        finally:
            self._writer = None

    async def _end_backlog(self) -> None:
        writer = self._writer
        if writer is not None:  # probably stuck on a full send buffer: it must not send after the close
            writer.cancel()
        await self.end("backlog", CLOSE_BACKLOG)

    async def stop(self) -> None:
        """The socket is done: no task of it outlives it."""
        self._writing = False
        self._outbox.clear()
        for task in (self._writer, self._closer):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def deliver(self, envelope: Envelope) -> bool:
        """Send one hub message as this phone should see it; False once the socket is ended by it."""
        message = envelope.message
        kind = message.get("type")
        if kind == "command" and message.get("reason") == "superseded":
            await self.send_text(envelope.text)
            await self.end("superseded", CLOSE_SUPERSEDED)
            return False
        if kind in _PEER_NOTICES and message.get("device_id") == self._device_key:
            return True  # about this phone itself (its own connect): peer notices are about the other phone
        if kind == "sitting.state" and message.get("state") not in _DECIDED_AT_A_BOUNDARY:
            await self._reload()
        elif kind == "phase":
            if message.get("sitting_id") not in (None, self._sitting_key):
                return True
            if "questions" in message:
                mine = self._questions_for_me(message)
                if mine is not message:
                    await self.send(mine)
                    return True
        await self.send_text(envelope.text)
        return True

    def _questions_for_me(self, message: dict[str, Any]) -> dict[str, Any]:
        """The answer-start push carries the question; a phone whose sitting was not ready at that instant (absent)
        never receives it. Judged at the announced boundary, so a late announcement decides the same."""
        assert self.view is not None and self._facts is not None
        state = sitting_state(self.view.windows, self._facts, _instant(message.get("at")) or self.clock.now())
        if state in (SittingState.answering, SittingState.recorded):
            return message
        return {k: v for k, v in message.items() if k != "questions"} | {"state": state.value}

    def _set_view(self, view: SittingView) -> None:
        self.view, self._facts = view, facts_of(view.sitting)

    async def _reload(self) -> None:
        assert self.device is not None
        try:
            async with transaction(self.sessionmaker) as db:
                view, _ = await presence.load_view(db, sitting_id=self.device.sitting_id, now=self.clock.now())
            self._set_view(view)
        except Exception:  # a database hiccup: the message still goes out; the view is refreshed by the next one
            log.exception("ws.reload.failed", device_id=str(self.device.id))

    # --- phone → server --------------------------------------------------------------------------------

    async def receive_loop(self) -> str:
        """Read until the phone leaves, falls silent past the presence timeout (4408) or the server ends the socket;
        returns why (the `device_offline` reason)."""
        loop = asyncio.get_running_loop()
        silence = self.settings.presence_timeout_seconds
        try:
            async with asyncio.timeout_at(loop.time() + silence) as deadline:
                self._deadline = deadline
                while self.state is ConnectionState.OPEN:
                    raw = await self.ws.receive()
                    if raw["type"] == "websocket.disconnect":
                        if self.state is ConnectionState.OPEN:
                            self._move(ConnectionState.CLOSED)
                        return self.end_reason or "socket_closed"
                    deadline.reschedule(None)  # a slow message is not silence
                    await self._received(raw)
                    if self.end_reason is None:
                        deadline.reschedule(loop.time() + silence)
        except TimeoutError:
            if self.end_reason is not None:
                return self.end_reason
            await self.close(CLOSE_TIMEOUT, "timeout")
            return "heartbeat_timeout"
        finally:
            self._deadline = None
        return self.end_reason or "closed"

    async def _received(self, raw: dict[str, Any]) -> None:
        text = raw.get("text")
        if text is None:
            await self.error(errors.MalformedMessage())
            return
        if len(text) > self.settings.ws_max_message_bytes // 4 and len(text.encode()) > self.settings.ws_max_message_bytes:
            await self.error(errors.FrameTooLarge())
            self.end_reason = "frame_too_large"
            await self.close(CLOSE_TOO_LARGE, "frame_too_large")
            return
        try:
            await self.handle(text)
        except errors.DualcamError as exc:
            await self.error(exc)
        except Exception:  # a bug or a database hiccup fails this message, never the connection
            log.exception("ws.message.failed", device_id=str(self.device.id) if self.device else None)
            await self.error(InternalError())

    async def handle(self, text: str) -> None:
        try:
            message = json.loads(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than the parser allows
            raise errors.MalformedMessage() from exc
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise errors.MalformedMessage()
        if _has_lone_surrogate(message):  # "\ud800" is valid JSON but no valid text: it could not be stored or echoed
            raise errors.MalformedMessage()
        handler = _HANDLERS.get(message["type"])
        if handler is None:
            raise errors.UnknownMessageType(details={"type": message["type"][:64]})
        model, method = handler
        try:
            parsed = model.model_validate(message)
        except ValidationError as exc:
            raise errors.MalformedMessage(details=[{"loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]) from exc
        await method(self, parsed)

    async def on_ping(self, ping: TimePing) -> None:
        t1 = self.clock.now()
        await self.send({"type": "time.pong", "t0": ping.t0, "t1": _ms(t1), "t2": _ms(self.clock.now())})

    def _mine(self, device_id: Any, candidate_id: Any = None) -> None:
        assert self.device is not None
        if (device_id is not None and device_id != self.device.id) or (candidate_id is not None and candidate_id != self.device.candidate_id):
            raise errors.NotYourDevice()

    async def on_heartbeat(self, beat: Heartbeat) -> None:
        self._mine(beat.device_id, beat.candidate_id)
        now = self.clock.now()
        telemetry = beat.telemetry()
        assert self.device is not None
        # Heartbeats refresh presence in the database at most every few seconds (10,000 phones) unless
        # something a proctor cares about changed.
        changed = any(self.device.telemetry.get(k) != telemetry.get(k) for k in ("charging", "network", "visibility") if k in telemetry)
        if not changed and self.last_write is not None and now - self.last_write < timedelta(seconds=self.settings.heartbeat_seconds / 2):
            return
        async with transaction(self.sessionmaker, self.hub) as db:
            device = await db.get_one(Device, self.device.id)
            await presence.heartbeat(db, device=device, telemetry=telemetry, now=now)
            if device.disconnected_at is not None and device.superseded_at is None:
                # The sweep marked us offline (e.g. a long network stall) but the socket survived: back online.
                await presence.connect(db, device=device, now=now, timeout=self.timeout)
                self.connected_at = now
            else:
                view, _ = await presence.load_view(db, sitting_id=device.sitting_id, now=now)
                await presence.refresh_readiness(db, view=view, now=now, timeout=self.timeout)
            self.device.telemetry = dict(device.telemetry)
        self.last_write = now

    async def on_event(self, event: Event) -> None:
        self._mine(event.device_id)
        await record_device_event(self, kind=event.kind, client_at=event.client_at, details=event.details)

    async def on_recording(self, message: Recording) -> None:
        await record_device_event(self, kind=message.type.replace(".", "_"), client_at=message.client_at, details=message.details)


async def record_device_event(conn: Connection, *, kind: str, client_at: datetime | None, details: dict[str, Any]) -> None:
    if kind not in proctoring.DEVICE_EVENT_KINDS:
        raise errors.UnknownEventKind(details={"kind": kind})
    assert conn.device is not None
    now = conn.clock.now()
    async with transaction(conn.sessionmaker, conn.hub) as db:
        await apply_device_event(db, device_id=conn.device.id, kind=kind, client_at=client_at, details=details, now=now)


async def apply_device_event(db: Any, *, device_id: Any, kind: str, client_at: datetime | None, details: dict[str, Any], now: datetime) -> None:
    device = await db.get_one(Device, device_id)
    await proctoring.device_event(db, device=device, kind=kind, now=now, client_at=client_at, details=details)
    view, exam = await presence.load_view(db, sitting_id=device.sitting_id, now=now)
    await proctoring.enforce(db, view=view, exam=exam, now=now)


_PEER_NOTICES = frozenset({"peer.online", "peer.offline"})
# Decided by the scheduler at answer start and at upload close, right after the phase push on the session: no later
# message carries the question, so the connection's view needs no reload (with 10 % of 10,000 phones absent, that
# would be 1,000 database reads inside the answer-start push).
_DECIDED_AT_A_BOUNDARY = frozenset({SittingState.absent.value, SittingState.incomplete.value})

_HANDLERS: dict[str, tuple[type, Any]] = {
    "time.ping": (TimePing, Connection.on_ping),
    "heartbeat": (Heartbeat, Connection.on_heartbeat),
    "event": (Event, Connection.on_event),
    "recording.started": (Recording, Connection.on_recording),
    "recording.stopped": (Recording, Connection.on_recording),
}


def _instant(value: Any) -> datetime | None:
    return _parse_instant(value) if isinstance(value, str) else None


@functools.lru_cache(maxsize=16)  # the same `at` for every socket of a push
def _parse_instant(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _has_lone_surrogate(message: dict[str, Any]) -> bool:
    try:
        json.dumps(message, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


def _bearer(header: str) -> str | None:
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@router.websocket("/api/v1/ws")
async def realtime(websocket: WebSocket) -> None:
    conn = Connection(websocket)
    reason = "closed"
    try:
        async with contextlib.AsyncExitStack() as subscribed:
            try:
                if not await conn.open(subscribed):
                    return
            except WebSocketDisconnect:
                reason = "socket_closed"
                return
            conn.start_writing()
            reason = await conn.receive_loop()
    except WebSocketDisconnect:
        reason = conn.end_reason or "socket_closed"
    finally:
        await conn.stop()
        if conn.state is ConnectionState.OPEN:
            await conn.close(1000)
        await conn.finish(reason)
