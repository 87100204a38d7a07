"""Recordings: the exam's rules on top of the tus server (app.uploads), and what ops and reviewers see.

- A phone (device token) creates and writes only its own sitting's recording for its role, from answer start until
  the upload deadline, and not for an absent sitting. One recording per sitting and role: creating it again answers
  the same upload, so a phone that lost its state resumes. A recording that failed verification may be sent again
  (a new upload; the failed one stays as it was).
- The upload's owner is "sitting:<id>:<role>", not the device: a phone that logs in again for the role keeps it.
- Verified = every byte in and PyAV reads a video stream; its duration is counted from packets. When main and aux
  are both verified the sitting is `uploaded`, as of the moment the later upload's last byte arrived (so a finish
  or verification that runs late, e.g. after a crash or an S3 outage, judges the sitting as it was when its bytes
  were in).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import errors
from app.models import DeviceRole, Recording, RecordingStatus
from app.services.audit import Actor, record
from app.services.recordings.media import MediaInfo
from app.services.sitting import devices, facts, sittings
from app.services.sitting.lifecycle import SittingState
from app.services.sitting.sittings import SittingView
from app.uploads import Upload

# Upload ids are ours (not the client's): unguessable, and a recording's first upload id is fixed before the
# upload row exists, so a creation that failed half-way is retried under the same id.
_ID_BYTES = 24


class UploadFacts(Protocol):
    """What the recordings rules read of the tus server's uploads (its state port, app.uploads.UploadState)."""

    async def get(self, upload_id: str) -> Upload | None: ...

    async def get_many(self, upload_ids: Sequence[str]) -> dict[str, Upload]: ...


@dataclass(frozen=True, slots=True)
class Uploader:
    """A phone allowed to upload: its device, sitting and role."""

    device_id: uuid.UUID
    sitting_id: uuid.UUID
    role: DeviceRole

    @property
    def owner(self) -> str:
        return owner_for(self.sitting_id, self.role)


def owner_for(sitting_id: uuid.UUID, role: DeviceRole) -> str:
    return f"sitting:{sitting_id}:{role.value}"


def new_upload_id() -> str:
    return secrets.token_urlsafe(_ID_BYTES)


async def uploader_for(db: AsyncSession, *, token: str | None, now: datetime) -> Uploader:
    device = await devices.authenticate(db, token=token, now=now)
    return Uploader(device_id=device.id, sitting_id=device.sitting_id, role=device.role)


def check_window(view: SittingView, now: datetime) -> None:
    """Bytes are accepted from answer start until the deadline; a terminated sitting's recording is still taken
    (reviewers decide on it), an absent sitting has none, nor a practice attempt that ended unready."""
    if now < view.windows.answer_starts_at:
        raise errors.RecordingNotOpen()
    if now >= view.windows.upload_deadline:
        raise errors.UploadDeadlinePassed()
    if view.state in (SittingState.absent, SittingState.incomplete) and view.missed_start(now):
        raise errors.SittingAbsent()


async def may_write(db: AsyncSession, *, uploader: Uploader, now: datetime) -> None:
    check_window(await sittings.load(db, sitting_id=uploader.sitting_id, now=now), now)


@dataclass(frozen=True, slots=True)
class UploadPlan:
    """The upload that carries the recording: answered again if it exists, made under `upload_id` otherwise."""

    upload_id: str
    expires_at: datetime
    subject: str


async def plan_upload(
    db: AsyncSession, *, uploader: Uploader, metadata: Mapping[str, str], uploads: UploadFacts, now: datetime
) -> UploadPlan:
    """pre_create: check the window and the metadata, then pick the upload for this sitting and role."""
    view = await sittings.load(db, sitting_id=uploader.sitting_id, now=now)
    check_window(view, now)
    # The phone names its sitting and role in the metadata; they must be its own (never another candidate's).
    if metadata.get("sitting_id", str(uploader.sitting_id)) != str(uploader.sitting_id):
        raise errors.RecordingNotYours()
    if metadata.get("role", uploader.role.value) != uploader.role.value:
        raise errors.RecordingNotYours()
    subject = uploader.owner
    expires_at = view.windows.upload_deadline
    recording = await _recording(db, uploader.sitting_id, uploader.role)
    if recording is None:
        recording = Recording(
            sitting_id=uploader.sitting_id, role=uploader.role, upload_id=new_upload_id(), status=RecordingStatus.receiving, created_at=now
        )
        db.add(recording)
        await db.flush()  # a concurrent creation for the same role fails here (IntegrityError): the caller retries
        record(db, at=now, actor=Actor("device", str(uploader.device_id)), action="recording.create", target_kind="recording", target_id=recording.id, details={"role": uploader.role.value, "upload_id": recording.upload_id})
        return UploadPlan(recording.upload_id, expires_at, subject)
    upload = await uploads.get(recording.upload_id)
    if upload is not None and (recording.status is RecordingStatus.failed or upload.gone_at is not None):
        # Sent again after a failed verification (or the phone deleted its unfinished upload): a new upload.
        return UploadPlan(await _resend(db, recording=recording, uploader=uploader, now=now), expires_at, subject)
    # Its upload (none yet: a creation that failed half-way, or one in progress at this moment).
    return UploadPlan(recording.upload_id, expires_at, subject)


async def _resend(db: AsyncSession, *, recording: Recording, uploader: Uploader, now: datetime) -> str:
    """A new upload for the recording; the upload id it now has. Conditional on the upload it had: of phones
    sending it again at once, one makes the new upload and the others answer with it (instead of each replacing
    the previous one's, whose bytes would then belong to no recording)."""
    previous = recording.upload_id
    replaced = await db.scalar(
        update(Recording)
        .where(Recording.id == recording.id, Recording.upload_id == previous)
        .values(upload_id=new_upload_id(), status=RecordingStatus.receiving, failure_reason=None, attempts=Recording.attempts + 1)
        .returning(Recording.upload_id)
    )
    if replaced is None:
        await db.refresh(recording)
        return recording.upload_id
    record(db, at=now, actor=Actor("device", str(uploader.device_id)), action="recording.resend", target_kind="recording", target_id=recording.id, details={"previous_upload_id": previous, "upload_id": replaced})
    return replaced


async def _recording(db: AsyncSession, sitting_id: uuid.UUID, role: DeviceRole) -> Recording | None:
    return await db.scalar(select(Recording).where(Recording.sitting_id == sitting_id, Recording.role == role))


async def pending_recording(db: AsyncSession, upload_id: str) -> Recording | None:
    """The recording an upload carries, if it still waits for verification."""
    return await db.scalar(select(Recording).where(Recording.upload_id == upload_id, Recording.status == RecordingStatus.receiving))


async def unverified_finished(db: AsyncSession, *, uploads: UploadFacts, before: datetime, limit: int = 50) -> list[str]:
    """Uploads finished before `before` but never verified (the process that queued them died): the scheduler
    verifies them."""
    waiting = list(await db.scalars(select(Recording.upload_id).where(Recording.status == RecordingStatus.receiving)))
    found = await uploads.get_many(waiting)
    finished = {upload_id: found[upload_id].finished_at for upload_id in waiting if upload_id in found}
    return [upload_id for upload_id, at in finished.items() if at is not None and at <= before][:limit]


async def settle(
    db: AsyncSession, *, upload: Upload, info: MediaInfo | None, failure: str | None, uploads: UploadFacts, now: datetime
) -> Recording | None:
    """Record the verification of a finished upload; when both recordings are verified, the sitting is uploaded.
    Idempotent: a recording already settled (or now carried by another upload) is left alone."""
    recording = await db.scalar(select(Recording).where(Recording.upload_id == upload.id))
    if recording is None:
        return None
    view = await sittings.load(db, sitting_id=recording.sitting_id, now=now, lock=True)  # one writer per sitting: both roles may settle at once
    evidence = {"size": upload.offset, "sha256": upload.sha256, "chain_sha256": upload.chain_sha256}
    if info is None:
        outcome = {"status": RecordingStatus.failed, "failure_reason": (failure or "unreadable")[:300]}
    else:
        outcome = {"status": RecordingStatus.verified, "verified_at": now, "container": info.container, "duration_seconds": info.duration_seconds, "media": info.as_json()}
    # Settled once, by whoever's conditional update lands first (the final PATCH's verification and the scheduler's
    # pass over leftovers can probe the same upload at once); on SQLite it also takes the write lock, so the other
    # role's settle waits for this one.
    settled = await db.execute(
        update(Recording)
        .where(Recording.id == recording.id, Recording.status == RecordingStatus.receiving, Recording.upload_id == upload.id)
        .values(**evidence, **outcome)
        .execution_options(synchronize_session=False)
    )
    await db.refresh(recording)
    if not settled.rowcount:  # type: ignore[attr-defined]
        return recording
    if info is None:
        record(db, at=now, actor=Actor("system"), action="recording.failed", target_kind="recording", target_id=recording.id, details={"reason": recording.failure_reason, "upload_id": upload.id})
        return recording
    record(db, at=now, actor=Actor("system"), action="recording.verified", target_kind="recording", target_id=recording.id, details={"role": recording.role.value, "duration_seconds": info.duration_seconds, "sha256": upload.sha256})
    await _maybe_uploaded(db, view=view, uploads=uploads)
    return recording


async def _maybe_uploaded(db: AsyncSession, *, view: SittingView, uploads: UploadFacts) -> None:
    rows = (await db.execute(select(Recording.status, Recording.upload_id).where(Recording.sitting_id == view.sitting.id))).all()
    if len(rows) < len(DeviceRole) or any(status is not RecordingStatus.verified for status, _ in rows):
        return
    found = await uploads.get_many([upload_id for _, upload_id in rows])
    arrived = [u.completed_at or u.finished_at for u in found.values()]
    if len(arrived) < len(rows) or None in arrived:
        return
    # As of the moment the later recording's last byte arrived: a finish or verification that ran late (S3 down,
    # a crash in between) does not cost the candidate.
    at = max(a for a in arrived if a is not None)
    facts.mark_uploaded(db, view=view.at(at), now=at)


async def readable(db: AsyncSession, recording_id: uuid.UUID, *, uploads: UploadFacts) -> tuple[Recording, Upload]:
    """A recording whose bytes are all in (verified or failed), with its upload."""
    recording = await db.get(Recording, recording_id)
    if recording is None:
        raise errors.RecordingNotFound()
    upload = await uploads.get(recording.upload_id)
    if upload is None or upload.finished_at is None or upload.gone_at is not None:
        raise errors.RecordingNotFinished()
    return recording, upload
