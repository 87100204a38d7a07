"""The realtime channel: one WebSocket per phone at /api/v1/ws (token in `?token=` or a Bearer header).

One module past 300 lines: the connection's state machine, outbox and receive loop share one per-socket state; the
rules they apply live in app.services.sitting.realtime.

Close codes: 4401 not authenticated or token invalid · 4409 superseded by a newer phone of the same role (at once,
or at the connect of a phone replaced while it was away: after an `error` `device_replaced` with the notice) ·
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

from app import errors, metrics
from app.adapters.hub import Envelope, encode
from app.config import Settings
from app.db import transaction
from app.logs import get_logger
from app.models import Device, DeviceRole
from app.schemas.candidates import SittingOut
from app.schemas.realtime import Event, Heartbeat, Recording, TimePing
from app.security import bearer_token
from app.services.sitting import devices, realtime, sittings
from app.services.sitting.sittings import SittingView

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
        "ws", "state", "settings", "sessionmaker", "hub", "clock", "timeout", "device", "view",
        "last_write", "connected_at", "peer_online", "end_reason", "close_code", "_outbox", "_writing", "_writer", "_closer",
        "_deadline", "_device_key", "_sitting_key",
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
        self.view: SittingView | None = None  # the sitting as of the last load: what hub messages are judged against
        self.last_write: datetime | None = None
        self.connected_at: datetime | None = None  # this socket's start: the device's presence is ours while it matches
        self.peer_online = False
        self.end_reason: str | None = None  # why the server ended the socket (superseded, backlog), once it did
        self.close_code: int | None = None  # how the socket ended: the server's close code, or the phone's
        self._outbox: collections.deque[Envelope] = collections.deque()
        self._writing = False  # hub messages are sent only after `hello`
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None
        self._deadline: asyncio.Timeout | None = None  # the receive loop's: moved to "now" to end it from outside
        # Per message to every socket of a session: the ids as they appear in messages.
        self._device_key = self._sitting_key = ""

    def _move(self, target: ConnectionState) -> None:
        if target not in _TRANSITIONS[self.state]:
            raise RuntimeError(f"websocket connection: {self.state.value} → {target.value} is not allowed")
        self.state = target

    async def send(self, message: dict[str, Any]) -> None:
        await self.send_text(encode(message))

    async def send_text(self, text: str) -> None:
        if self.state is not ConnectionState.OPEN:
            return
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            # The network broke under this send (starlette will send nothing more): the receive loop sees the
            # disconnect; a message still being handled must not fail on its answer.
            if self.state is ConnectionState.OPEN:
                self._move(ConnectionState.CLOSED)
                self.close_code = exc.code

    async def error(self, error: errors.DualcamError) -> None:
        await self.send({"type": "error", **error.body()["error"]})

    async def close(self, code: int, reason: str = "") -> None:
        if self.state is ConnectionState.CLOSED:
            return
        self.close_code = code
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
        """Accept, authenticate, subscribe (on `stack`), load the sitting and mark the phone online in one
        transaction; then read the peer's presence and send `hello`."""
        await self.ws.accept()
        self._move(ConnectionState.OPEN)
        now = self.clock.now()
        async with transaction(self.sessionmaker, self.hub) as db:
            token = self.ws.query_params.get("token") or bearer_token(self.ws.headers.get("authorization"))
            try:
                device = self.device = await devices.authenticate(db, token=token, now=now)
            except errors.DualcamError as exc:
                # A replaced phone (offline when it was replaced) hears it as it reconnects: the notice, then 4409.
                await self.error(exc)
                await self.close(CLOSE_SUPERSEDED if isinstance(exc, errors.DeviceReplaced) else CLOSE_UNAUTHENTICATED, exc.code)
                return False
            self._device_key, self._sitting_key = str(device.id), str(device.sitting_id)
            await stack.enter_async_context(self.hub.attach(self, *await realtime.channels_of(db, device=device)))
            connected = await realtime.connect(db, device=device, now=now, timeout=self.timeout)
            self.view = connected.view
            if not connected.accepted:
                await self._hello(connected.view, now, peer_online=False)
                await self.error(errors.SittingClosed())
                await self.close(CLOSE_SITTING_OVER, "sitting_closed")
                return False
            self.connected_at = self.last_write = now
        async with transaction(self.sessionmaker) as db:
            self.peer_online = await realtime.peer_online(db, device=device, now=now, timeout=self.timeout)
        await self._hello(connected.view, now, peer_online=self.peer_online)
        return True

    async def _hello(self, view: SittingView, now: datetime, *, peer_online: bool) -> None:
        assert self.device is not None
        await self.send(
            {
                "type": "hello",
                "server_time": now.isoformat(),
                "epoch_ms": _ms(now),
                "device": {"id": str(self.device.id), "role": self.device.role.value},
                "sitting": SittingOut.of(view, now).model_dump(mode="json"),
                "peer": {"online": peer_online},
                "heartbeat_seconds": self.settings.heartbeat_seconds,
                "presence_timeout_seconds": self.settings.presence_timeout_seconds,
                "live_still_seconds": self.settings.live_still_seconds if self.device.role is DeviceRole.main else None,
            }
        )

    async def finish(self, reason: str) -> None:
        """The socket ended: the phone is offline as of now (unless it was replaced)."""
        if self.device is None or self.connected_at is None:
            return
        with contextlib.suppress(Exception):
            async with transaction(self.sessionmaker, self.hub) as db:
                await realtime.disconnect(db, device_id=self.device.id, now=self.clock.now(), timeout=self.timeout, reason=reason, connected_at=self.connected_at)

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
        if kind in realtime.PEER_NOTICES and message.get("device_id") == self._device_key:
            return True  # about this phone itself (its own connect): peer notices are about the other phone
        if kind == "sitting.state" and message.get("state") not in realtime.DECIDED_AT_A_BOUNDARY:
            await self._reload()
        elif kind == "phase":
            if message.get("sitting_id") not in (None, self._sitting_key):
                return True
            assert self.view is not None
            mine = realtime.phase_for(self.view, message, at=_instant(message.get("at")) or self.clock.now())
            if mine is not message:
                await self.send(mine)
                return True
        await self.send_text(envelope.text)
        return True

    async def _reload(self) -> None:
        assert self.device is not None
        try:
            async with transaction(self.sessionmaker) as db:
                self.view = await sittings.load(db, sitting_id=self.device.sitting_id, now=self.clock.now())
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
                            self.close_code = raw.get("code", 1005)
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
            await self.error(errors.MessageFailed())

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

    async def on_heartbeat(self, beat: Heartbeat) -> None:
        assert self.device is not None
        realtime.check_mine(self.device, device_id=beat.device_id, candidate_id=beat.candidate_id)
        now = self.clock.now()
        telemetry = beat.telemetry()
        interval = timedelta(seconds=self.settings.heartbeat_seconds)
        if not realtime.heartbeat_due(self.device.telemetry, telemetry, last_write=self.last_write, now=now, interval=interval):
            return
        async with transaction(self.sessionmaker, self.hub) as db:
            beaten = await realtime.heartbeat(
                db, device_id=self.device.id, known=self.device.telemetry or {}, telemetry=telemetry, now=now, timeout=self.timeout, view=self.view
            )
        self.device.telemetry = beaten.telemetry
        if beaten.reconnected:
            self.connected_at = now
        self.last_write = now

    async def on_event(self, event: Event) -> None:
        assert self.device is not None
        realtime.check_mine(self.device, device_id=event.device_id)
        await self._event(event.kind, event.client_at, event.details)

    async def on_recording(self, message: Recording) -> None:
        await self._event(message.type.replace(".", "_"), message.client_at, message.details)

    async def _event(self, kind: str, client_at: datetime | None, details: dict[str, Any]) -> None:
        assert self.device is not None
        async with transaction(self.sessionmaker, self.hub) as db:
            await realtime.device_event(db, device_id=self.device.id, kind=kind, client_at=client_at, details=details, now=self.clock.now())


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


@router.websocket("/api/v1/ws")
async def realtime_channel(websocket: WebSocket) -> None:
    conn = Connection(websocket)
    reason = "closed"
    role = "unauthenticated"
    try:
        async with contextlib.AsyncExitStack() as subscribed:
            try:
                if not await conn.open(subscribed):
                    return
            except WebSocketDisconnect as exc:
                conn.close_code = exc.code
                reason = "socket_closed"
                return
            assert conn.device is not None
            role = conn.device.role.value
            metrics.websockets_open.labels(role).inc()
            conn.start_writing()
            reason = await conn.receive_loop()
    except WebSocketDisconnect as exc:
        conn.close_code = conn.close_code or exc.code
        reason = conn.end_reason or "socket_closed"
    finally:
        await conn.stop()
        if conn.state is ConnectionState.OPEN:
            await conn.close(1000)
        await conn.finish(reason)
        if role != "unauthenticated":
            metrics.websockets_open.labels(role).dec()
        metrics.websocket_closes.labels(role, str(conn.close_code or 1000)).inc()
