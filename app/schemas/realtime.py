"""Messages phones send over the WebSocket (server → phone messages are documented in docs/realtime.md)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.schemas import DateTimeText


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
    details: dict[str, Any] = Field(default_factory=dict)
    device_id: uuid.UUID | None = None


class Recording(_In):
    type: Literal["recording.started", "recording.stopped"]
    client_at: AwareDatetime | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class EventIn(BaseModel):
    """The same event over REST (a phone flushing events it buffered while its socket was down)."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(max_length=32)
    client_at: Annotated[AwareDatetime, DateTimeText] | None = None  # the phone's clock: any year it believes in
    details: dict[str, Any] = Field(default_factory=dict)


class PairingOfferOut(BaseModel):
    token: str
    url: str
    qr_svg: str
    expires_at: datetime


class PairingClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=8, max_length=100)
