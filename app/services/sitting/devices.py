"""A phone logging in for a sitting as its main or aux camera: one active phone per role. The phone it replaced
hears why at once (a `command` on its channel) or on its next request (401 `device_replaced`), with when it was
replaced and whom to call, so it stops and says so instead of retrying a revoked token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.db import publish_after_commit
from app.models import AuthToken, Candidate, Device, DeviceRole, ProctorEvent, Role
from app.security import token_digest
from app.services import auth
from app.services.audit import Actor, record
from app.services.sitting import sittings
from app.services.sitting.channels import device_channel
from app.services.sitting.lifecycle import FINAL_STATES
from app.services.sitting.sittings import SittingView
from app.services.timezones import to_local


@dataclass(frozen=True, slots=True)
class DeviceLogin:
    device: Device
    issued: auth.IssuedToken
    replaced_at: datetime | None  # when this log-in replaced the role's previous phone (None: there was none)
    timezone: str  # the exam's, for the phone's times


def replacement_notice(view: SittingView, *, role: DeviceRole, at: datetime) -> dict[str, Any]:
    """What a replaced phone shows: when (in the exam's timezone) and the exam's support contacts — the aux phone
    has no candidate log-in to load the exam with."""
    exam = view.exam
    return {
        "role": role.value,
        "replaced_at": to_local(at, view.timezone).isoformat(),  # type: ignore[union-attr]
        "timezone": view.timezone,
        "support": {"phone": exam.support_phone, "qq": exam.support_qq, "wechat": exam.support_wechat, "hours": exam.support_hours},
    }


async def login_device(
    db: AsyncSession, *, candidate: Candidate, view: SittingView, role: DeviceRole, now: datetime, ttl: timedelta
) -> DeviceLogin:
    """Log a phone in as main or aux for a sitting; a new log-in of a role supersedes the previous phone."""
    if view.state in FINAL_STATES:
        raise errors.SittingClosed()
    # Superseding is one conditional update, and the database holds at most one active phone per role (a partial
    # unique index): of two log-ins at the same moment, the later insert is refused instead of both phones
    # staying active with valid tokens.
    superseded = list(
        (
            await db.scalars(
                update(Device)
                .where(Device.sitting_id == view.sitting.id, Device.role == role, Device.superseded_at.is_(None))
                .values(superseded_at=now)
                .returning(Device.id)
            )
        ).all()
    )
    device = Device(sitting_id=view.sitting.id, candidate_id=candidate.id, role=role, created_at=now)
    try:
        # A savepoint: the refusal must leave the request's transaction usable (PostgreSQL aborts it otherwise).
        async with db.begin_nested():
            db.add(device)
    except IntegrityError:
        # Another log-in of this role committed after our update looked (PostgreSQL; SQLite runs the two one after
        # the other, the later superseding the earlier). Its phone stays; this one may simply try again.
        raise errors.DeviceLoginConflict() from None
    notice = replacement_notice(view, role=role, at=now)
    for old_id in superseded:
        await auth.revoke_device_tokens(db, device_id=old_id, now=now)
        db.add(ProctorEvent(sitting_id=view.sitting.id, device_id=old_id, source="server", kind="device_replaced", at=now, details={"role": role.value, "replaced_by": str(device.id)}))
        # The old phone's socket is told why and closed (wherever it is connected).
        publish_after_commit(db, device_channel(old_id), {"type": "command", "command": "close", "reason": "superseded", **notice})
    record(db, at=now, actor=Actor("candidate", str(candidate.id)), action="device.login", target_kind="device", target_id=device.id, details={"role": role.value, "sitting_id": str(view.sitting.id), "superseded": [str(d) for d in superseded]})
    issued = await auth.issue_token(db, role=Role.device, now=now, ttl=ttl, device_id=device.id)
    return DeviceLogin(device, issued, now if superseded else None, view.timezone)


async def replaced(db: AsyncSession, *, token: str | None, now: datetime) -> errors.DualcamError | None:
    """`device_replaced` (with the replacement notice) when `token` is a phone's that a newer phone of its role
    replaced; None for any other token. Asked only after the token was refused, so valid tokens pay nothing."""
    if not token:
        return None
    device = await db.scalar(
        select(Device).join(AuthToken, AuthToken.device_id == Device.id).where(AuthToken.token_hash == token_digest(token), Device.superseded_at.is_not(None))
    )
    if device is None or device.superseded_at is None:
        return None
    view = await sittings.load(db, sitting_id=device.sitting_id, now=now)
    return errors.DeviceReplaced(details=replacement_notice(view, role=device.role, at=device.superseded_at), headers={"WWW-Authenticate": "Bearer"})


async def authenticate(db: AsyncSession, *, token: str | None, now: datetime) -> Device:
    """The phone behind a token (its socket, its uploads); a replaced phone is told so (`device_replaced`)."""
    try:
        return await auth.authenticate_device(db, token=token, now=now)
    except errors.InvalidToken:
        raise (await replaced(db, token=token, now=now)) or errors.InvalidToken() from None
