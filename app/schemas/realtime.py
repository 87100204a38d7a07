"""Messages phones send over the WebSocket (server → phone messages are documented in docs/realtime.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.logs import get_logger
from app.models import ProctorEvent
from app.schemas import BoundedJson, DateTimeText, json_readable
from app.services.timezones import local_details, to_local

log = get_logger(__name__)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TimePing(_In):
    type: Literal["time.ping"]
    t0: float = Field(description="client send time, ms since the epoch by the phone's clock")


class Heartbeat(_In):
    type: Literal["heartbeat"]
    device_id: uuid.UUID | None = None  # optional; when present it must be this phone's
    candidate_id: uuid.UUID | None = None
    battery: float | None = Field(default=None, ge=0, le=1)
    charging: bool | None = None
    network: str | None = Field(default=None, max_length=32)
    free_storage: int | None = Field(default=None, ge=0)
    visibility: Literal["visible", "hidden"] | None = None

    def telemetry(self) -> dict[str, Any]:
        return self.model_dump(exclude={"type", "device_id", "candidate_id"}, exclude_none=True)


class Event(_In):
    type: Literal["event"]
    kind: str = Field(max_length=32)
    client_at: AwareDatetime | None = None  # the phone's clock; without an offset it cannot be placed
    details: BoundedJson = Field(default_factory=dict)
    device_id: uuid.UUID | None = None


class Recording(_In):
    type: Literal["recording.started", "recording.stopped"]
    client_at: AwareDatetime | None = None
    details: BoundedJson = Field(default_factory=dict)


class EventIn(BaseModel):
    """The same event over REST (a phone flushing events it buffered while its socket was down)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=32)
    client_at: Annotated[AwareDatetime, DateTimeText] | None = None  # the phone's clock: any year it believes in
    details: BoundedJson = Field(default_factory=dict)


class PairingOfferOut(BaseModel):
    token: str
    url: str
    qr_svg: str
    expires_at: datetime = Field(description="in the exam's timezone")


class PairingClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=8, max_length=100)


class ProctorEventOut(BaseModel):
    at: datetime
    client_at: datetime | None
    source: str
    kind: str
    device_id: uuid.UUID | None
    details: dict[str, Any]

    @classmethod
    def of(cls, event: ProctorEvent, timezone: str) -> ProctorEventOut:
        """One row of a sitting's event log, its times in the exam's timezone (`client_at` is the phone's instant,
        moved there too). A row whose details cannot be shown (stored before their bounds, or written around them) is
        listed with `{"invalid": true}` instead of breaking the whole listing. A phone's own details are shown as it
        sent them; the server's have their instants in the exam's timezone."""
        details = event.details
        if not isinstance(details, dict) or not json_readable(details):
            log.warning("proctoring.event.unreadable", event_id=str(event.id), sitting_id=str(event.sitting_id))
            details = {"invalid": True}
        elif event.source == "server":
            details = local_details(details, timezone)
        return cls(
            at=to_local(event.at, timezone),
            client_at=to_local(event.client_at, timezone),
            source=event.source,
            kind=event.kind,
            device_id=event.device_id,
            details=details,
        )
