"""Phones: QR pairing, events sent over REST (after a reconnect), manual early stop; ops read the event log."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from fastapi import APIRouter, Request, status
from pydantic import Field

from app import errors
from app.api.deps import DB, DeviceUser, MainDevice, Now, Scope, SettingsDep, Staff
from app.schemas.auth import TokenOut
from app.schemas.candidates import SittingOut
from app.schemas.realtime import EventIn, PairingClaimIn, PairingOfferOut, ProctorEventOut
from app.security import bearer_token
from app.services.auth import authenticate
from app.services.sitting import devices, facts, pairing, proctoring, realtime, sittings
from app.services.timezones import to_local

router = APIRouter(prefix="/api/v1", tags=["devices"])


class PairingClaimOut(TokenOut):
    device_id: uuid.UUID
    sitting_id: uuid.UUID
    replaced_at: datetime | None = Field(description="when this phone replaced the aux phone logged in before it (exam's timezone); null: none")
    timezone: str = Field(description="the exam's timezone, for the times this phone shows")

    @classmethod
    def of(cls, login: devices.DeviceLogin) -> PairingClaimOut:
        issued, device = login.issued, login.device
        return cls(
            token=issued.token, role=issued.role, expires_at=issued.expires_at, device_id=device.id, sitting_id=device.sitting_id,
            replaced_at=to_local(login.replaced_at, login.timezone), timezone=login.timezone,
        )


@router.post(
    "/device/pairing",
    response_model=PairingOfferOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(errors.MainDeviceOnly, errors.SittingClosed, errors.SittingNotFound),
)
async def offer_pairing(principal: MainDevice, db: DB, now: Now, settings: SettingsDep) -> PairingOfferOut:
    """Main phone: a single-use pairing code (valid 120 s) as a URL and an SVG QR code for the aux phone."""
    assert principal.device is not None
    offer = await pairing.offer(db, main=principal.device, base_url=settings.public_base_url, now=now)
    return PairingOfferOut(token=offer.token, url=offer.url, qr_svg=offer.qr_svg, expires_at=to_local(offer.expires_at, offer.timezone))


@router.post(
    "/pairing/claim",
    response_model=PairingClaimOut,
    status_code=status.HTTP_201_CREATED,
    responses=errors.responses(
        errors.PairingTokenUnknown, errors.PairingTokenUsed, errors.PairingTokenExpired, errors.PairingOtherCandidate, errors.SittingClosed,
        errors.DeviceLoginConflict,
    ),
)
async def claim_pairing(body: PairingClaimIn, request: Request, db: DB, now: Now, settings: SettingsDep) -> PairingClaimOut:
    """Aux phone: claim the code from the QR URL and become the candidate's aux camera (no typing).
    A phone already logged in for another candidate (its token sent as Bearer) is refused."""
    current = bearer_token(request.headers.get("authorization"))
    claimer = await authenticate(db, token=current, now=now) if current else None
    login = await pairing.claim(db, token=body.token, claimer=claimer, now=now, ttl=timedelta(hours=settings.token_ttl_hours))
    return PairingClaimOut.of(login)


@router.post(
    "/device/events",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=errors.responses(errors.UnknownEventKind, errors.SittingClosed, errors.EventLogFull),
)
async def post_event(body: EventIn, principal: DeviceUser, db: DB, now: Now) -> None:
    """Record a phone event (app hidden, call, lock, charger, network, battery, camera…) stamped with server time."""
    assert principal.device is not None
    await realtime.device_event(db, device_id=principal.device.id, kind=body.kind, client_at=body.client_at, details=body.details, now=now)


@router.post(
    "/device/stop",
    response_model=SittingOut,
    responses=errors.responses(errors.MainDeviceOnly, errors.SittingClosed),
)
async def stop_early(principal: MainDevice, db: DB, now: Now) -> SittingOut:
    """Main phone: stop answering before the end (after the candidate confirmed); both phones are told to stop."""
    assert principal.device is not None
    view = await sittings.load(db, sitting_id=principal.device.sitting_id, now=now)
    facts.stop_recording(db, view=view, now=now, actor=principal.actor)
    return SittingOut.of(view.at(now), now)


@router.get(
    "/ops/sittings/{sitting_id}/events",
    response_model=list[ProctorEventOut],
    responses=errors.responses(errors.SittingNotFound),
    tags=["ops: sessions"],
)
async def sitting_events(sitting_id: uuid.UUID, principal: Staff, scope: Scope, db: DB, now: Now) -> list[ProctorEventOut]:
    """Proctoring events of a sitting in server-time order (for reviewers), times in the exam's timezone."""
    timezone = (await sittings.load(db, sitting_id=sitting_id, now=now, scope=scope)).timezone
    return [ProctorEventOut.of(e, timezone) for e in await proctoring.list_events(db, sitting_id=sitting_id)]



