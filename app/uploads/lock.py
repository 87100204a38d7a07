"""The per-upload write lock: a lease in the upload's row, plus an asyncio.Lock per upload in this process.

The rule (why not `SELECT … FOR UPDATE` held while a body streams in: it pins a pooled connection per slow phone,
locks the whole database on SQLite, and a half-open connection would hold it until TCP gives up — tusd's 423):

1. A writer (PATCH, creation-with-upload, DELETE) takes the lock with a compare-and-set on the row: free, or its
   lease has run out. It renews the lease every `heartbeat_s` while it works; the lease lasts `lease_s`.
2. A newer request for the same upload *preempts* the holder instead of queueing behind it: in this process it
   sets the holder's stop event; for a holder on another replica it sets `lock_release_requested`, which the
   holder reads at its next heartbeat. The holder stops reading its body, keeps the bytes it already stored
   durably (not when an Upload-Checksum must cover the whole chunk), commits, and lets go. The newcomer waits up
   to `lock_wait_s` for that, then answers 423 (tus-js-client retries 423; tuspy retries anything).
3. A holder that died (kill -9) stops renewing: the lock is free `lease_s` after its last heartbeat.
4. A commit is a compare-and-set on (lock token, offset), so a holder that lost its lease can never commit: its
   bytes were never acknowledged and the next writer overwrites them (local files are truncated to the committed
   offset; S3 parts are rewritten by number, staged objects are named afresh).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from app.clock import Clock
from app.logs import get_logger
from app.uploads import errors
from app.uploads.errors import TusError
from app.uploads.state import Upload, UploadState

log = get_logger(__name__)


@dataclass
class Holder:
    upload_id: str
    token: str
    upload: Upload  # as it was when the lock was taken
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str | None = None  # "preempted" | "lease_lost"
    releasing: bool = False  # a commit that also lets go is under way
    released: bool = False  # ... and it went through: nothing left to release

    def preempt(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self.stop.set()

    @property
    def lost(self) -> bool:
        return self.reason == "lease_lost"


@dataclass
class _Slot:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    holder: Holder | None = None
    users: int = 0


class UploadLocks:
    def __init__(self, state: UploadState, clock: Clock, *, lease_s: float, heartbeat_s: float) -> None:
        self._state = state
        self._clock = clock
        self._lease = timedelta(seconds=lease_s)
        self._heartbeat_s = heartbeat_s
        self._slots: dict[str, _Slot] = {}

    @asynccontextmanager
    async def hold(self, upload_id: str, *, wait: float, preempt: bool = True) -> AsyncIterator[Holder]:
        """The upload's lock, or TusError(UPLOAD_LOCKED) after `wait` seconds."""
        slot = self._slots.setdefault(upload_id, _Slot())
        slot.users += 1
        try:
            if preempt and slot.holder is not None:
                slot.holder.preempt("preempted")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            try:
                async with asyncio.timeout(wait):
                    await slot.lock.acquire()
            except TimeoutError:
                log.info("upload.lock.timeout", upload_id=upload_id, where="process")
                raise TusError(errors.UPLOAD_LOCKED) from None
            try:
                holder = await self._acquire(upload_id, deadline, preempt=preempt)
                slot.holder = holder
                done = asyncio.Event()
                heartbeat = asyncio.create_task(self._heartbeat(holder, done))
                try:
                    yield holder
                finally:
                    slot.holder = None
                    # Not cancel(): a renewal cut off inside its transaction can leave a SQLite connection holding
                    # the write lock. The heartbeat finishes its beat and stops.
                    done.set()
                    try:
                        await asyncio.shield(heartbeat)
                    finally:
                        if not holder.released:
                            # Shielded: a cancelled request still lets go of the row (else it waits for the lease).
                            await asyncio.shield(self._state.release(upload_id, holder.token))
            finally:
                slot.lock.release()
        finally:
            slot.users -= 1
            if slot.users == 0:
                self._slots.pop(upload_id, None)

    async def _acquire(self, upload_id: str, deadline: float, *, preempt: bool) -> Holder:
        loop = asyncio.get_running_loop()
        token = secrets.token_hex(16)
        asked = False
        delay = 0.02
        while True:
            now = self._clock.now()
            upload = await self._state.acquire(upload_id, token, now=now, lease_until=now + self._lease)
            if upload is not None:
                return Holder(upload_id=upload_id, token=token, upload=upload)
            if preempt and not asked:
                await self._state.request_release(upload_id)  # a holder on another replica
                asked = True
            if loop.time() + delay > deadline:
                log.info("upload.lock.timeout", upload_id=upload_id, where="database")
                raise TusError(errors.UPLOAD_LOCKED)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)

    async def _heartbeat(self, holder: Holder, done: asyncio.Event) -> None:
        while True:
            try:
                await asyncio.wait_for(done.wait(), self._heartbeat_s)
                return
            except TimeoutError:
                pass
            try:
                lease = await self._state.renew(holder.upload_id, holder.token, lease_until=self._clock.now() + self._lease)
            except Exception:  # the database hiccuped: the lease has slack, try again next beat
                log.exception("upload.lock.renew_failed", upload_id=holder.upload_id)
                continue
            if not lease.held:
                if holder.releasing:
                    return  # our own commit let go
                log.warning("upload.lock.lost", upload_id=holder.upload_id)
                holder.preempt("lease_lost")
                return
            if lease.release_requested and holder.reason is None:
                log.info("upload.lock.release_requested", upload_id=holder.upload_id)
                holder.preempt("preempted")
