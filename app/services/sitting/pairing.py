"""QR pairing (the 小艺帮 way): the main phone shows a single-use, short-lived code; the aux phone that opens
`{public_base_url}/aux/#pair=<token>` becomes the candidate's aux camera without typing anything."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import segno
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.services.sitting.channels import sitting_channel
from app.db import publish_after_commit
from app.models import Device, DeviceRole, PairingToken
from app.security import new_token, token_digest
from app.services.sitting import devices, proctoring, sittings, staff_feed
from app.services.auth import Principal
from app.services.exam.candidates import get_candidate
from app.services.sitting.lifecycle import FINAL_STATES

PAIRING_TTL = timedelta(seconds=120)


@dataclass(frozen=True, slots=True)
class PairingOffer:
    token: str
    url: str
    qr_svg: str
    expires_at: datetime
    timezone: str  # the exam's: the phone shows the expiry in it


def pairing_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/aux/#pair={token}"


async def offer(db: AsyncSession, *, main: Device, base_url: str, now: datetime) -> PairingOffer:
    if main.role is not DeviceRole.main:
        raise errors.MainDeviceOnly()
    view = await sittings.load(db, sitting_id=main.sitting_id, candidate_id=main.candidate_id, now=now)
    if view.state in FINAL_STATES:
        raise errors.SittingClosed()
    token = new_token("pair")
    expires_at = now + PAIRING_TTL
    db.add(PairingToken(token_hash=token_digest(token), sitting_id=main.sitting_id, candidate_id=main.candidate_id, created_by_device_id=main.id, created_at=now, expires_at=expires_at))
    url = pairing_url(base_url, token)
    svg = segno.make(url, error="m").svg_inline(scale=6, border=2, title="dualcam 辅机位配对 / aux pairing")
    return PairingOffer(token=token, url=url, qr_svg=svg, expires_at=expires_at, timezone=view.timezone)


async def claim(
    db: AsyncSession, *, token: str, claimer: Principal | None, now: datetime, ttl: timedelta
) -> devices.DeviceLogin:
    """The aux phone claims the code. A phone already logged in for another candidate is refused."""
    digest = token_digest(token)
    claimer_candidate = claimer.candidate.id if claimer is not None and claimer.candidate is not None else None
    # One conditional update: of phones claiming a code at once, exactly one finds it unused; the others wait for
    # its commit (PostgreSQL's row lock, SQLite's write lock) and then match no row.
    claimable = [PairingToken.token_hash == digest, PairingToken.used_at.is_(None), PairingToken.expires_at > now]
    if claimer_candidate is not None:
        claimable.append(PairingToken.candidate_id == claimer_candidate)
    row = await db.scalar(update(PairingToken).where(*claimable).values(used_at=now).returning(PairingToken))
    if row is None:
        raise await _unclaimable(db, digest=digest, claimer_candidate=claimer_candidate, now=now)
    candidate = await get_candidate(db, row.candidate_id)
    view = await sittings.load(db, sitting_id=row.sitting_id, candidate_id=row.candidate_id, now=now)
    login = await devices.login_device(db, candidate=candidate, view=view, role=DeviceRole.aux, now=now, ttl=ttl)
    device = login.device
    row.used_by_device_id = device.id
    proctoring.record(db, sitting_id=row.sitting_id, device_id=device.id, source="server", kind="paired", now=now)
    staff_feed.changed(db, session_id=view.session.id, sitting_id=row.sitting_id, what="pairing")
    publish_after_commit(db, sitting_channel(row.sitting_id), {"type": "pair.status", "paired": True, "aux_device_id": str(device.id), "at": now.isoformat()})
    return login


async def _unclaimable(db: AsyncSession, *, digest: str, claimer_candidate: uuid.UUID | None, now: datetime) -> errors.DualcamError:
    """Why a code matched no row of the claim, in the order the phone should hear it."""
    row = await db.scalar(select(PairingToken).where(PairingToken.token_hash == digest))
    if row is None:
        return errors.PairingTokenUnknown()
    if claimer_candidate is not None and claimer_candidate != row.candidate_id:
        return errors.PairingOtherCandidate()
    if row.used_at is None and now >= row.expires_at:
        return errors.PairingTokenExpired()
    return errors.PairingTokenUsed()
