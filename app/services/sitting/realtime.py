"""What a phone's realtime channel does to its sitting: the connect sequence, heartbeats, events, the end of a
socket, and what of a hub message a phone may see. The WebSocket route (app.api.ws) speaks the protocol (frames,
close codes, outboxes) and calls these; REST routes that take the same events call them too."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import Device
from app.services.sitting import presence, proctoring, questions, sittings, staff_feed
from app.services.sitting.channels import device_channel, session_channel, sitting_channel
from app.services.sitting.lifecycle import FINAL_STATES, SittingState
from app.services.sitting.sittings import SittingView

PEER_NOTICES = frozenset({"peer.online", "peer.offline"})
# Decided by the scheduler at answer start and at upload close, right after the phase push on the session: no later
# message carries the question, so a connection's view needs no reload (with 10 % of 10,000 phones absent, that
# would be 1,000 database reads inside the answer-start push).
DECIDED_AT_A_BOUNDARY = frozenset({SittingState.absent.value, SittingState.incomplete.value})
# Telemetry a proctor watches: a change is written at once, anything else at most every half heartbeat.
WATCHED_TELEMETRY = ("charging", "network", "visibility")


async def channels_of(db: AsyncSession, *, device: Device) -> tuple[str, ...]:
    """What a phone listens to: its sitting (state, peer, pairing), its session (phases) and itself (commands)."""
    session_id = await sittings.session_id_of(db, sitting_id=device.sitting_id)
    return sitting_channel(device.sitting_id), session_channel(session_id), device_channel(device.id)


@dataclass(frozen=True, slots=True)
class Connected:
    view: SittingView  # as of the connect, with what connecting decided (ready, terminated)
    accepted: bool  # False: the sitting is over, the socket is refused after `hello`


async def connect(db: AsyncSession, *, device: Device, now: datetime, timeout: timedelta) -> Connected:
    """A socket of the phone opened, already subscribed to `channels_of`: load the sitting once (so a change committed
    before this read is in `hello`, one after it arrives as a message) and mark the phone online."""
    view = await sittings.load(db, sitting_id=device.sitting_id, now=now)
    if view.state in FINAL_STATES:
        return Connected(view, accepted=False)
    await presence.connect(db, device=device, now=now, timeout=timeout, view=view)
    return Connected(view.at(now), accepted=True)


async def peer_online(db: AsyncSession, *, device: Device, now: datetime, timeout: timedelta) -> bool:
    """Whether the sitting's other phone is online. Read after the phone's own online state is committed: of two
    phones connecting at once, the later commit reads the earlier one as online, and the earlier one (already
    subscribed) gets the later one's `peer.online`; read in the same transaction, both could miss each other."""
    devices = await presence.active_devices(db, sitting_id=device.sitting_id)
    peer = next((d for role, d in devices.items() if role is not device.role), None)
    return peer is not None and presence.is_online(peer, now=now, timeout=timeout)


def check_mine(device: Device, *, device_id: uuid.UUID | None, candidate_id: uuid.UUID | None = None) -> None:
    """A message may name its phone and candidate; when it does, they must be the socket's own."""
    if (device_id is not None and device_id != device.id) or (candidate_id is not None and candidate_id != device.candidate_id):
        raise errors.NotYourDevice()


def heartbeat_due(known: dict[str, Any], telemetry: dict[str, Any], *, last_write: datetime | None, now: datetime, interval: timedelta) -> bool:
    """Heartbeats refresh presence in the database at most every half `interval` (10,000 phones), unless something
    a proctor cares about changed."""
    changed = any(known.get(k) != telemetry.get(k) for k in WATCHED_TELEMETRY if k in telemetry)
    return changed or last_write is None or now - last_write >= interval / 2


@dataclass(frozen=True, slots=True)
class Beat:
    telemetry: dict[str, Any]  # the phone's telemetry as stored now
    reconnected: bool  # the sweep had marked it offline; this heartbeat brought it back


async def heartbeat(
    db: AsyncSession, *, device_id: uuid.UUID, known: dict[str, Any], telemetry: dict[str, Any], now: datetime, timeout: timedelta,
    view: SittingView | None,
) -> Beat:
    """A due heartbeat. An online phone whose sitting (`view`, the socket's) is not waiting for readiness is one
    conditional UPDATE: 2,000 phones beat 200 times a second on exam day. Otherwise, or when the row says the phone
    is not online (the sweep took it off, or it was replaced), the whole path: presence, reconnect, readiness."""
    merged = {**known, **telemetry}
    if view is not None and view.at(now).state is not SittingState.waiting:
        if await presence.refresh(db, device_id=device_id, telemetry=merged, now=now):
            return Beat(merged, reconnected=False)
    device = await db.get_one(Device, device_id)
    await presence.heartbeat(db, device=device, telemetry=telemetry, now=now)
    if device.disconnected_at is not None and device.superseded_at is None:
        # The sweep marked it offline (e.g. a long network stall) but the socket survived: back online.
        await presence.connect(db, device=device, now=now, timeout=timeout)
        return Beat(dict(device.telemetry), reconnected=True)
    view = await sittings.load(db, sitting_id=device.sitting_id, now=now)
    await presence.refresh_readiness(db, view=view, now=now, timeout=timeout)
    return Beat(dict(device.telemetry), reconnected=False)


async def device_event(
    db: AsyncSession, *, device_id: uuid.UUID, kind: str, client_at: datetime | None, details: dict[str, Any], now: datetime
) -> None:
    """A phone's event (over the socket, or over REST after a reconnect), stamped with server time; it may open or
    close an interruption, so the policy is applied at once. A sitting in a final state takes no more events: its
    record is what was decided on."""
    if kind not in proctoring.DEVICE_EVENT_KINDS:
        raise errors.UnknownEventKind(details={"kind": kind})
    device = await db.get_one(Device, device_id)
    view = await sittings.load(db, sitting_id=device.sitting_id, now=now)
    if view.state in FINAL_STATES:
        raise errors.SittingClosed(details={"state": view.state.value})
    await proctoring.device_event(db, device=device, kind=kind, now=now, client_at=client_at, details=details)
    staff_feed.changed(db, session_id=view.session.id, sitting_id=view.sitting.id, what="event")
    await proctoring.enforce(db, view=view, now=now)


async def disconnect(db: AsyncSession, *, device_id: uuid.UUID, now: datetime, timeout: timedelta, reason: str, connected_at: datetime) -> None:
    """The socket that started at `connected_at` ended: the phone is offline as of now, unless it was replaced or
    connected again since."""
    device = await db.get(Device, device_id)
    if device is not None:
        await presence.disconnect(db, device=device, now=now, timeout=timeout, reason=reason, connected_at=connected_at)


def phase_for(view: SittingView, message: dict[str, Any], *, at: datetime) -> dict[str, Any]:
    """The answer-start push as this sitting may see it: a sitting that may not see the questions at the announced
    boundary `at` (absent) gets it without them, with its state. Judged at the boundary, so a late push decides the
    same as a timely one. Returns `message` itself when nothing is taken out."""
    if "questions" not in message or questions.refusal(view, at) is None:
        return message
    answering_only = ("questions", "live_still_seconds")
    return {k: v for k, v in message.items() if k not in answering_only} | {"state": view.at(at).state.value}
