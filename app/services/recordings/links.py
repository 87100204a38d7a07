"""Signed links to a recording's bytes: ops and reviewers read recordings only through these (HMAC of the
recording and the expiry), so a video element can play one without a login header."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from app import errors
from app.models import Recording


def _signature(secret_key: str, recording_id: uuid.UUID, expires: int) -> str:
    message = f"recording:{recording_id}:{expires}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:40]


@dataclass(frozen=True, slots=True)
class Link:
    path: str  # for watching: the playback copy once made, else the original
    original_path: str  # the untouched bytes, as a download
    expires_at: datetime


def link_for(recording: Recording, *, secret_key: str, now: datetime, ttl: timedelta) -> Link:
    expires = int((now + ttl).timestamp())
    signature = _signature(secret_key, recording.id, expires)
    query = f"expires={expires}&signature={signature}"
    base = f"/api/v1/recordings/{recording.id}"
    return Link(f"{base}/content?{query}", f"{base}/original?{query}", datetime.fromtimestamp(expires, now.tzinfo))


def check_link(*, secret_key: str, recording_id: uuid.UUID, expires: int, signature: str, now: datetime) -> None:
    if not hmac.compare_digest(_signature(secret_key, recording_id, expires).encode(), signature.encode()):
        raise errors.RecordingLinkInvalid()
    if now.timestamp() >= expires:
        raise errors.RecordingLinkExpired()
