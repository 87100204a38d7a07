"""A phone logging in for a sitting as its main or aux camera: one active phone per role."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.db import publish_after_commit
from app.models import Candidate, Device, DeviceRole, ProctorEvent, Role
from app.services import auth
from app.services.audit import Actor, record
from app.services.sitting.channels import device_channel
from app.services.sitting.lifecycle import FINAL_STATES
from app.services.sitting.sittings import SittingView


async def login_device(
    db: AsyncSession, *, candidate: Candidate, view: SittingView, role: DeviceRole, now: datetime, ttl: timedelta
) -> tuple[Device, auth.IssuedToken]:
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
    for old_id in superseded:
        await auth.revoke_device_tokens(db, device_id=old_id, now=now)
        db.add(ProctorEvent(sitting_id=view.sitting.id, device_id=old_id, source="server", kind="device_superseded", at=now, details={"role": role.value}))
        # The old phone's socket is told why and closed (wherever it is connected).
        publish_after_commit(db, device_channel(old_id), {"type": "command", "command": "close", "reason": "superseded"})
    device = Device(sitting_id=view.sitting.id, candidate_id=candidate.id, role=role, created_at=now)
    try:
        # A savepoint: the refusal must leave the request's transaction usable (PostgreSQL aborts it otherwise).
        async with db.begin_nested():
            db.add(device)
    except IntegrityError:
        # Another log-in of this role committed after our update looked (PostgreSQL; SQLite runs the two one after
        # the other, the later superseding the earlier). Its phone stays; this one may simply try again.
        raise errors.DeviceLoginConflict() from None
    record(db, at=now, actor=Actor("candidate", str(candidate.id)), action="device.login", target_kind="device", target_id=device.id, details={"role": role.value, "sitting_id": str(view.sitting.id), "superseded": [str(d) for d in superseded]})
    issued = await auth.issue_token(db, role=Role.device, now=now, ttl=ttl, device_id=device.id)
    return device, issued
