"""A tus 1.0.0 server as an ASGI app: core, creation, creation-with-upload, creation-defer-length, termination,
expiration, checksum (sha1, sha256).

Over 300 lines on purpose: it is the protocol handler, one guard-clause method per request; the wire format, the
lock and the running hashes are their own modules.

It knows nothing about exams. The application decides through callbacks (`TusHooks`): who is asking
(`authorize`), whether and how an upload may be created (`pre_create`), whether bytes may be written now
(`pre_write`), whether an upload may be deleted (`pre_terminate`), and what happens once all bytes are in
(`post_finish`). Time comes from the injected clock.

    tus = TusApp(hooks=TusHooks(authorize=..., pre_create=...), config=TusConfig(), clock=clock)
    app.mount("/api/v1/uploads", tus)          # at import time
    tus.attach(state=SqlUploadState(sessionmaker), store=open_upload_store(url))   # in the lifespan

Durability: a PATCH is acknowledged (204 + Upload-Offset) only after the store holds its bytes durably (fdatasync,
or an S3 part / staged object) and the new offset is committed in the database. Locking: app.uploads.lock.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from app.adapters.upload_store import StoredUpload, UploadStore, UploadStoreError, WriteResult
from app.clock import Clock, SystemClock
from app.logs import get_logger
from app.uploads import errors, wire
from app.uploads.errors import TusError
from app.uploads.hashes import RunningHashes
from app.uploads.later import LaterFinishes
from app.uploads.lock import Holder, UploadLocks
from app.uploads.state import Changes, NewUpload, Upload, UploadExists, UploadState

log = get_logger(__name__)

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum"
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BODY_REFUSALS = (
    errors.CHECKSUM_MISMATCH,
    errors.BODY_EXCEEDS_LENGTH,
    errors.MAX_SIZE_EXCEEDED,
    errors.BODY_INCOMPLETE,
    errors.UPLOAD_PREEMPTED,
)


@dataclass(frozen=True)
class Caller:
    """Who is asking, as the protocol sees it (the application's log-in behind it travels in `data`). `owner` is stored on the uploads it creates; only the same owner sees them again
    (anyone else gets 404). Choose it so a re-logged-in device keeps its uploads, e.g. "sitting:<id>:main"."""

    owner: str
    data: Any = None


@dataclass(frozen=True)
class CreateDecision:
    """pre_create's answer. `existing_upload_id`: answer POST with that upload (a phone that lost its URL gets the
    same Location back) if it is still alive and the principal's; otherwise a new one is made. Equal to `upload_id`:
    that upload, made under that id if it does not exist yet (of POSTs doing so at once, one makes it and the others
    are answered with it)."""

    upload_id: str | None = None  # id for the new upload ([A-Za-z0-9_-]{1,64}); random when None
    existing_upload_id: str | None = None
    expires_at: datetime | None = None  # → Upload-Expires; after it: 410 and expire_uploads() deletes the bytes
    max_size: int | None = None  # tighter than TusConfig.max_size for this upload
    subject: str | None = None  # opaque, stored (e.g. "sitting:<id>:main")


async def _allow(principal: Caller, upload: Upload) -> None:
    return None


async def _refuse_finished(principal: Caller, upload: Upload) -> None:
    # A finished upload is evidence; deleting it takes an explicit pre_terminate from the application.
    if upload.finished_at is not None:
        raise TusError(errors.FORBIDDEN)


async def _nothing(upload: Upload) -> None:
    return None


@dataclass(frozen=True)
class TusHooks:
    """The application's decisions. Each may raise TusError(ErrorSpec(status, code, en, zh)) to refuse."""

    authorize: Callable[[Request], Awaitable[Caller]]  # raise 401/403 to refuse; the body is not readable
    pre_create: Callable[[Caller, Mapping[str, str], int | None], Awaitable[CreateDecision]]  # (metadata, length)
    pre_write: Callable[[Caller, Upload], Awaitable[None]] = _allow  # before a PATCH (or POST body) is read
    pre_terminate: Callable[[Caller, Upload], Awaitable[None]] = _refuse_finished
    # After a PATCH committed bytes (the upload as committed). An exception it raises is logged; the client's
    # answer stays 204, its bytes are safe.
    post_write: Callable[[Caller, Upload], Awaitable[None]] = _allow
    # After the last byte is committed and the store assembled the upload (sha256 set). A TusError it raises is
    # the PATCH's answer when the finish runs in it; any other exception is logged and the client still gets 204
    # (its bytes are safe). A store that assembles on finish (S3) finishes after the answer (app.uploads.later).
    post_finish: Callable[[Upload], Awaitable[None]] = _nothing


@dataclass(frozen=True)
class TusConfig:
    max_size: int = 8 * 1024**3  # Tus-Max-Size
    key_prefix: str = "uploads/"  # store key = key_prefix + upload id
    location_base: str | None = None  # Location = <base>/<id>; default: the mount path (a relative reference)
    lock_wait_s: float = 10.0
    lease_s: float = 20.0  # a replica killed mid-PATCH blocks that upload (423) at most this long
    heartbeat_s: float = 2.0
    body_idle_timeout_s: float = 30.0  # the tus spec's suggested timeout
    # Record the upload's sha256 at finish: kept running while this process stored every byte of the upload,
    # else computed by reading the upload back once.
    hash_on_finish: bool = True
    # How long a complete, unfinished upload is left to the process finishing it (after its answer, or in a
    # failed PATCH the client retries) before `finish_pending` takes it from any process.
    leftover_after_s: float = 0.0


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class _Written:
    upload: Upload
    ended: str  # the Body's `ended`: complete, disconnected, timeout, preempted
    stored: int


class TusApp:
    def __init__(
        self,
        *,
        hooks: TusHooks,
        config: TusConfig | None = None,
        clock: Clock | None = None,
        state: UploadState | None = None,
        store: UploadStore | None = None,
    ) -> None:
        self.hooks = hooks
        self.config = config or TusConfig()
        self.clock = clock or SystemClock()
        self._state: UploadState | None = None
        self._store: UploadStore | None = None
        self._locks: UploadLocks | None = None
        self._hashes = RunningHashes()
        self._later = LaterFinishes(self._finish_later)
        if state is not None and store is not None:
            self.attach(state=state, store=store)

    def attach(self, *, state: UploadState, store: UploadStore) -> None:
        """Wire the database and the store (in the lifespan: they open after the app is built)."""
        self._state, self._store = state, store
        self._locks = UploadLocks(state, self.clock, lease_s=self.config.lease_s, heartbeat_s=self.config.heartbeat_s)

    @property
    def state(self) -> UploadState:
        if self._state is None:
            raise TusError(errors.NOT_READY)
        return self._state

    @property
    def store(self) -> UploadStore:
        if self._store is None:
            raise TusError(errors.NOT_READY)
        return self._store

    @property
    def locks(self) -> UploadLocks:
        if self._locks is None:
            raise TusError(errors.NOT_READY)
        return self._locks

    # --- ASGI ---------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served on its own; mounted, the parent app never forwards this
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        headers = Headers(scope=scope)
        method = scope["method"]
        if method == "POST" and "x-http-method-override" in headers:
            method = headers["x-http-method-override"].upper()  # for clients behind proxies that eat PATCH
        try:
            answer = await self._dispatch(scope, receive, method, headers)
        except TusError as exc:
            answer = self._refusal(exc)
        except UploadStoreError as exc:
            # 503, not 500: the bytes before this request are safe and clients retry 5xx.
            log.error("upload.store.failed", path=scope["path"], method=method, error=str(exc))
            answer = self._refusal(TusError(errors.STORE_UNAVAILABLE))
        answer.headers["Tus-Resumable"] = TUS_VERSION
        if method == "HEAD":
            answer.body = b""
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers.items()]
        if answer.body:
            raw += [(b"content-type", b"application/json"), (b"content-length", str(len(answer.body)).encode())]
        await send({"type": "http.response.start", "status": answer.status, "headers": raw})
        await send({"type": "http.response.body", "body": answer.body})

    @staticmethod
    def _refusal(exc: TusError) -> _Answer:
        headers = dict(exc.headers)
        if exc.spec.status == 412:
            headers["Tus-Version"] = TUS_VERSION
        if exc.spec.status == 405:
            headers["Allow"] = "OPTIONS, POST, HEAD, PATCH, DELETE"
        return _Answer(exc.spec.status, headers, json.dumps(exc.spec.body(), ensure_ascii=False).encode())

    async def _dispatch(self, scope: Scope, receive: Receive, method: str, headers: Headers) -> _Answer:
        path = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        upload_id = path.strip("/") or None
        if upload_id is not None and not _UPLOAD_ID.fullmatch(upload_id):
            raise TusError(errors.NOT_FOUND_ROUTE)
        if method == "OPTIONS":  # capabilities: no version check, no authorization (the spec says ignore the header)
            return self._options()
        if headers.get("tus-resumable") != TUS_VERSION:
            raise TusError(errors.UNSUPPORTED_VERSION)
        request = Request(scope)  # no receive: a callback cannot consume the body
        if upload_id is None and method == "POST":
            return await self._post(request, receive, headers)
        if upload_id is not None and method == "HEAD":
            return await self._head(request, upload_id)
        if upload_id is not None and method == "PATCH":
            return await self._patch(request, receive, headers, upload_id)
        if upload_id is not None and method == "DELETE":
            return await self._delete(request, upload_id)
        raise TusError(errors.METHOD_NOT_ALLOWED)

    def _options(self) -> _Answer:
        return _Answer(
            204,
            {
                "Tus-Version": TUS_VERSION,
                "Tus-Extension": EXTENSIONS,
                "Tus-Max-Size": str(self.config.max_size),
                "Tus-Checksum-Algorithm": ",".join(wire.CHECKSUM_ALGORITHMS),
            },
        )

    # --- handlers (guard clauses first) ----------------------------------------------------------------

    async def _head(self, request: Request, upload_id: str) -> _Answer:
        principal = await self.hooks.authorize(request)
        upload = await self._visible(upload_id, principal)
        headers = self._upload_headers(upload)
        headers["Cache-Control"] = "no-store"
        if upload.length is None:
            headers["Upload-Defer-Length"] = "1"
        else:
            headers["Upload-Length"] = str(upload.length)
        if upload.metadata:
            headers["Upload-Metadata"] = wire.format_metadata(upload.metadata)
        return _Answer(200, headers)

    async def _patch(self, request: Request, receive: Receive, headers: Headers, upload_id: str) -> _Answer:
        principal = await self.hooks.authorize(request)
        has_body = _has_body(headers)
        content_type = wire.media_type(headers.get("content-type"))
        # tus-js-client's last PATCH of a deferred-length upload carries only Upload-Length: no body, maybe no type.
        if content_type != wire.OFFSET_OCTET_STREAM and (has_body or content_type is not None):
            raise TusError(errors.UNSUPPORTED_MEDIA_TYPE)
        offset = wire.number(headers.get("upload-offset"), errors.OFFSET_INVALID)
        if offset is None:
            raise TusError(errors.OFFSET_MISSING)
        new_length = wire.number(headers.get("upload-length"), errors.LENGTH_INVALID)
        content_length = wire.number(headers.get("content-length"), errors.CONTENT_LENGTH_INVALID)
        checksum = wire.parse_checksum(headers.get("upload-checksum"))
        upload = await self._visible(upload_id, principal)
        await self.hooks.pre_write(principal, upload)
        if self._finishes_later and upload.complete and offset == upload.offset and not has_body and new_length in (None, upload.length):
            # A phone asking again after a lost answer: nothing to write, and the lock may be the finish's.
            self._finish_after_answer(upload)
            return _Answer(204, self._upload_headers(upload))
        async with self.locks.hold(upload_id, wait=self.config.lock_wait_s) as holder:
            upload = self._check(holder.upload, principal)  # terminated or expired while we waited?
            if offset != upload.offset:
                raise TusError(errors.OFFSET_MISMATCH)
            set_length = self._settle_length(upload, new_length)
            written = await self._write(
                upload,
                holder,
                receive,
                has_body=has_body,
                content_length=content_length,
                checksum=checksum,
                set_length=set_length,
            )
        self._finish_after_answer(written.upload)
        if written.ended == "preempted" and written.stored == 0:
            raise TusError(errors.UPLOAD_PREEMPTED)
        if written.stored:
            try:
                await self.hooks.post_write(principal, written.upload)
            except Exception:
                log.exception("upload.write.callback_failed", upload_id=upload_id)
        return _Answer(204, self._upload_headers(written.upload))

    async def _post(self, request: Request, receive: Receive, headers: Headers) -> _Answer:
        principal = await self.hooks.authorize(request)
        length = self._creation_length(headers)
        metadata = wire.parse_metadata(headers.get("upload-metadata"))
        if length is not None and length > self.config.max_size:
            raise TusError(errors.MAX_SIZE_EXCEEDED)
        has_body = _has_body(headers)
        if has_body and wire.media_type(headers.get("content-type")) != wire.OFFSET_OCTET_STREAM:
            raise TusError(errors.UNSUPPORTED_MEDIA_TYPE)
        content_length = wire.number(headers.get("content-length"), errors.CONTENT_LENGTH_INVALID)
        checksum = wire.parse_checksum(headers.get("upload-checksum")) if has_body else None
        if length is not None and content_length is not None and content_length > length:
            raise TusError(errors.BODY_EXCEEDS_LENGTH)
        decision = await self.hooks.pre_create(principal, metadata, length)
        max_size = min(self.config.max_size, decision.max_size or self.config.max_size)
        if (length if length is not None else content_length or 0) > max_size:
            raise TusError(errors.MAX_SIZE_EXCEEDED)

        upload = await self._existing(decision, principal)
        if upload is None:
            upload = await self._create(decision, principal, metadata, length, max_size)
        if upload.length is not None and length is not None and upload.length != length:
            raise TusError(errors.LENGTH_CONFLICT)
        body_fits = has_body and upload.offset == 0  # a reused upload that has bytes: the client PATCHes on
        sets_length = upload.length is None and length is not None
        if body_fits or sets_length or (upload.complete and upload.finished_at is None):
            upload = await self._write_at_creation(
                upload, principal, receive, has_body=body_fits, content_length=content_length, checksum=checksum, length=length
            )
        headers_out = self._upload_headers(upload)
        headers_out["Location"] = self._location(request, upload.id)
        return _Answer(201, headers_out)

    async def _delete(self, request: Request, upload_id: str) -> _Answer:
        principal = await self.hooks.authorize(request)
        upload = await self._visible(upload_id, principal)
        await self.hooks.pre_terminate(principal, upload)
        async with self.locks.hold(upload_id, wait=self.config.lock_wait_s) as holder:
            upload = self._check(holder.upload, principal)
            await self.store.terminate(self._stored(upload))
            holder.released = await self.state.mark_gone(upload_id, holder.token, reason="terminated", now=self.clock.now())
        self._hashes.forget(upload_id)
        log.info("upload.terminated", upload_id=upload_id, offset=upload.offset)
        return _Answer(204, {})

    # --- creation ------------------------------------------------------------------------------------

    @staticmethod
    def _creation_length(headers: Headers) -> int | None:
        raw_length, raw_defer = headers.get("upload-length"), headers.get("upload-defer-length")
        if raw_length is not None and raw_defer is not None:
            raise TusError(errors.LENGTH_AND_DEFER)
        if raw_defer is not None:
            if raw_defer != "1":
                raise TusError(errors.DEFER_INVALID)
            return None
        if raw_length is None:
            raise TusError(errors.LENGTH_MISSING)
        return wire.number(raw_length, errors.LENGTH_INVALID)

    async def _existing(self, decision: CreateDecision, principal: Caller) -> Upload | None:
        if decision.existing_upload_id is None:
            return None
        upload = await self.state.get(decision.existing_upload_id)
        if upload is None:
            return None
        if upload.owner != principal.owner or upload.gone_at is not None or upload.expired(self.clock.now()):
            log.info("upload.create.existing_unusable", upload_id=decision.existing_upload_id)
            return None
        log.info("upload.create.existing", upload_id=upload.id, offset=upload.offset)
        return upload

    async def _create(
        self, decision: CreateDecision, principal: Caller, metadata: dict[str, str], length: int | None, max_size: int
    ) -> Upload:
        upload_id = decision.upload_id or secrets.token_hex(16)
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise ValueError(f"pre_create chose an invalid upload id {upload_id!r}")
        key = self.config.key_prefix + upload_id
        store_state = await self.store.create(key)
        try:
            upload = await self.state.insert(
                NewUpload(
                    id=upload_id,
                    owner=principal.owner,
                    subject=decision.subject,
                    length=length,
                    max_size=max_size if max_size != self.config.max_size else None,
                    metadata=metadata,
                    storage_key=key,
                    store_state=store_state,
                    expires_at=decision.expires_at,
                    now=self.clock.now(),
                )
            )
        except UploadExists:
            # The id exists. Named as existing_upload_id too, it is that upload, created by a concurrent POST
            # between our look and our insert: answer it. Otherwise pre_create handed out a taken id.
            existing = await self._existing(decision, principal) if decision.existing_upload_id == upload_id else None
            if existing is None:
                raise TusError(errors.LENGTH_CONFLICT) from None
            return existing
        log.info("upload.created", upload_id=upload_id, length=length, subject=decision.subject)
        return upload

    async def _write_at_creation(
        self,
        upload: Upload,
        principal: Caller,
        receive: Receive,
        *,
        has_body: bool,
        content_length: int | None,
        checksum: wire.Checksum | None,
        length: int | None,
    ) -> Upload:
        """creation-with-upload, a length for an existing deferred upload, or an empty upload's finish."""
        if has_body:
            await self.hooks.pre_write(principal, upload)
        async with self.locks.hold(upload.id, wait=self.config.lock_wait_s) as holder:
            upload = self._check(holder.upload, principal)
            try:
                set_length = self._settle_length(upload, length)
            except TusError:
                raise TusError(errors.LENGTH_CONFLICT) from None
            try:
                written = await self._write(
                    upload,
                    holder,
                    receive,
                    has_body=has_body and upload.offset == 0,
                    content_length=content_length,
                    checksum=checksum,
                    set_length=set_length,
                )
            except TusError as exc:
                if exc.spec not in _BODY_REFUSALS:
                    raise
                # The upload exists whatever became of the body: answer 201 with the offset actually kept, and
                # the client goes on with PATCH from there (a refused POST would make it create another upload).
                log.info("upload.create.body_refused", upload_id=upload.id, code=exc.spec.code)
                return await self._visible(upload.id, principal)
        self._finish_after_answer(written.upload)
        return written.upload

    # --- writing -------------------------------------------------------------------------------------

    def _settle_length(self, upload: Upload, new_length: int | None) -> int | None:
        """The length this request sets (deferred until now), or None when it sets none."""
        if new_length is None:
            return None
        if upload.length is not None:
            if new_length != upload.length:
                raise TusError(errors.LENGTH_CHANGED)
            return None
        if new_length < upload.offset:
            raise TusError(errors.LENGTH_BELOW_OFFSET)
        if new_length > self._max_size(upload):
            raise TusError(errors.MAX_SIZE_EXCEEDED)
        return new_length

    def _max_size(self, upload: Upload) -> int:
        return min(self.config.max_size, upload.max_size or self.config.max_size)

    async def _write(
        self,
        upload: Upload,
        holder: Holder,
        receive: Receive,
        *,
        has_body: bool,
        content_length: int | None,
        checksum: wire.Checksum | None,
        set_length: int | None,
    ) -> _Written:
        """Stream the body into the store, check it, commit (offset, state, chain) with compare-and-set."""
        length = upload.length if upload.length is not None else set_length
        room = (length if length is not None else self._max_size(upload)) - upload.offset
        too_long = errors.BODY_EXCEEDS_LENGTH if length is not None else errors.MAX_SIZE_EXCEEDED
        if content_length is not None and content_length > room:
            raise TusError(too_long)  # refused before reading a byte
        stored = self._stored(upload)
        whole = self._hashes.take(upload) if self.config.hash_on_finish else None
        body = wire.Body(
            receive,
            stop=holder.stop,
            idle_timeout=self.config.body_idle_timeout_s,
            limit=room,
            checksum=checksum,
            whole=whole,
        )
        try:
            if has_body:
                try:
                    result = await self.store.write(stored, body.chunks(), tap=body.absorb)
                except wire.BodyTooLong:
                    raise TusError(too_long) from None  # the store dropped what it had written of this body
                ended = body.ended
                if body.absorbed != result.written:  # the hash chain and sha256 must cover exactly what was stored
                    raise RuntimeError(f"{type(self.store).__name__} stored {result.written} bytes, hashed {body.absorbed}")
            else:
                result, ended = WriteResult(written=0, state=dict(upload.store_state)), "complete"

            if checksum is not None and (ended != "complete" or not body.checksum_matches):
                await self.store.discard(stored, result)  # the chunk goes, the offset stays
                if ended == "complete":
                    log.warning("upload.patch.checksum_mismatch", upload_id=upload.id, offset=upload.offset, size=body.received)
                    raise TusError(errors.CHECKSUM_MISMATCH)
                raise TusError(errors.UPLOAD_PREEMPTED if ended == "preempted" else errors.BODY_INCOMPLETE)
            if holder.lost:
                # Another writer may own the upload now: commit nothing, touch nothing (its commit decides).
                raise TusError(errors.UPLOAD_LOCKED)
            if ended != "complete":
                log.info("upload.patch.partial", upload_id=upload.id, offset=upload.offset, stored=result.written, ended=ended)

            if result.written or set_length is not None:
                new_offset = upload.offset + result.written
                # The last write before a finish keeps the lock for it; any other lets go in the same statement.
                holder.releasing = new_offset != length or self._finishes_later
                now = self.clock.now()
                changes = Changes(
                    offset=new_offset,
                    length=set_length,
                    completed_at=now if new_offset == length else None,
                    store_state=result.state if result.state != upload.store_state else None,  # local files: never
                    chain_sha256=wire.chain(upload.chain_sha256, body.sha256) if result.written else None,
                    chunk_count=upload.chunk_count + 1 if result.written else None,
                    release_lock=holder.releasing,
                )
                committed = await self.state.commit(
                    upload.id, holder.token, expected_offset=upload.offset, changes=changes, now=now
                )
                if committed is None:
                    raise TusError(errors.UPLOAD_LOCKED)  # lost the lease between the heartbeat and the commit
                holder.released = holder.releasing
                upload = committed
                try:
                    await self.store.committed(stored, self._stored(committed))
                except UploadStoreError as exc:  # only leftovers stay behind
                    log.warning("upload.store.cleanup_failed", upload_id=upload.id, error=str(exc))
        finally:
            # The running sha256 stays with the upload as committed — unless it took in bytes that were not.
            if whole is not None and body.absorbed == upload.offset - stored.offset:
                self._hashes.keep(upload, whole)
        if upload.complete and upload.finished_at is None and not self._finishes_later:
            upload = await self._finish(upload, holder)
        return _Written(upload=upload, ended=ended, stored=result.written)

    @property
    def _finishes_later(self) -> bool:
        return self.store.assembles_on_finish

    def _finish_after_answer(self, upload: Upload) -> None:
        if self._finishes_later and upload.complete and upload.finished_at is None:
            self._later.submit(upload.id)

    async def _finish_later(self, upload_id: str) -> None:
        try:
            await self._finish_one(upload_id, wait=self.config.lock_wait_s)
        except Exception:  # the database away for a moment: finish_pending takes it
            log.exception("upload.finish.failed", upload_id=upload_id)

    async def _finish_one(self, upload_id: str, *, wait: float) -> bool:
        """Finish a complete upload unless another holds it or finished it; False when this did not finish it."""
        try:
            async with self.locks.hold(upload_id, wait=wait, preempt=False) as holder:
                fresh = holder.upload
                if not (fresh.complete and fresh.finished_at is None):
                    return False
                await self._finish(fresh, holder)
                return True
        except TusError as exc:  # held elsewhere (a retried last PATCH, another replica): theirs to finish
            log.info("upload.finish.skipped", upload_id=upload_id, code=exc.spec.code)
            return False
        except UploadStoreError as exc:
            log.error("upload.finish.failed", upload_id=upload_id, error=str(exc))
            return False

    async def settled(self) -> None:
        """Wait for the finishes running after their answers."""
        await self._later.settled()

    async def stop(self) -> None:
        """Shutdown: a finish cut short is finish_pending's."""
        await self._later.stop()

    async def _finish(self, upload: Upload, holder: Holder) -> Upload:
        state = await self.store.finish(self._stored(upload))
        digest = None
        if self.config.hash_on_finish:
            digest = self._hashes.digest(upload) or await self._sha256(replace(upload, store_state=state))
        now = self.clock.now()
        holder.releasing = True
        finished = await self.state.commit(
            upload.id,
            holder.token,
            expected_offset=upload.offset,
            changes=Changes(store_state=state, sha256=digest, finished_at=now, release_lock=True),
            now=now,
        )
        if finished is None:
            raise TusError(errors.UPLOAD_LOCKED)
        holder.released = True
        self._hashes.forget(upload.id)
        log.info("upload.finished", upload_id=upload.id, size=upload.offset, sha256=digest, chunks=upload.chunk_count)
        try:
            await self.hooks.post_finish(finished)
        except TusError:
            raise
        except Exception:
            log.exception("upload.finish.callback_failed", upload_id=upload.id)
        return finished

    async def _sha256(self, upload: Upload) -> str:
        """Read the upload back (another process wrote some of it, or this one restarted since)."""
        digest = hashlib.sha256()
        async for chunk in self.store.read(self._stored(upload), 0, upload.offset):
            await asyncio.to_thread(digest.update, chunk)  # off the event loop: other uploads go on meanwhile
        log.info("upload.finish.read_back", upload_id=upload.id, size=upload.offset)
        return digest.hexdigest()

    # --- lookups and headers ---------------------------------------------------------------------------

    async def _visible(self, upload_id: str, principal: Caller) -> Upload:
        upload = await self.state.get(upload_id)
        if upload is None:
            raise TusError(errors.UPLOAD_NOT_FOUND)
        return self._check(upload, principal)

    def _check(self, upload: Upload, principal: Caller) -> Upload:
        if upload.owner != principal.owner:
            raise TusError(errors.UPLOAD_NOT_FOUND)  # someone else's upload does not exist for you
        if upload.gone_at is not None or upload.expired(self.clock.now()):
            raise TusError(errors.UPLOAD_GONE)
        return upload

    def _stored(self, upload: Upload) -> StoredUpload:
        return StoredUpload(key=upload.storage_key, offset=upload.offset, length=upload.length, state=upload.store_state)

    def _upload_headers(self, upload: Upload) -> dict[str, str]:
        headers = {"Upload-Offset": str(upload.offset)}
        if upload.expires_at is not None and upload.finished_at is None:
            headers["Upload-Expires"] = wire.http_date(upload.expires_at)
        return headers

    def _location(self, request: Request, upload_id: str) -> str:
        base = self.config.location_base if self.config.location_base is not None else request.scope.get("root_path", "")
        return f"{base.rstrip('/')}/{upload_id}"

    # --- for the application and the scheduler ----------------------------------------------------------

    async def get(self, upload_id: str) -> Upload | None:
        return await self.state.get(upload_id)

    async def get_many(self, upload_ids: Sequence[str]) -> dict[str, Upload]:
        return await self.state.get_many(upload_ids)

    async def find(self, *, owner: str | None = None, subject: str | None = None) -> Upload | None:
        """The newest live upload of an owner and/or subject (for pre_create's existing_upload_id)."""
        return await self.state.find(owner=owner, subject=subject)

    def local_path(self, upload: Upload) -> Path | None:
        """The upload's file when the store keeps local files (PyAV opens it in place), else None."""
        capability = getattr(self.store, "local_path", None)
        return capability(self._stored(upload)) if capability is not None else None

    def read(self, upload: Upload, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Committed bytes of an upload (S3: once finished), e.g. for probing in post_finish."""
        return self.store.read(self._stored(upload), start, upload.offset if end is None else end)

    async def set_expiry(self, upload_id: str, expires_at: datetime | None) -> None:
        """Move an upload's expiry (e.g. ops extended the upload deadline)."""
        await self.state.set_expires_at(upload_id, expires_at, now=self.clock.now())

    async def release_stale_locks(self) -> int:
        """Call at startup when this is the only process writing uploads (SQLite): a lock left in the database is
        from this process's previous life (kill -9), and would otherwise block its upload until the lease ends."""
        count = await self.state.release_all()
        if count:
            log.warning("upload.lock.released_stale", count=count)
        return count

    async def expire_uploads(self, now: datetime | None = None) -> list[str]:
        """Delete the bytes of unfinished uploads past their expiry; they answer 410 from then on.
        Idempotent and safe to run late; an upload being written right now is left for the next run."""
        now = now or self.clock.now()
        expired: list[str] = []
        for upload in await self.state.expired(now):
            try:
                async with self.locks.hold(upload.id, wait=0, preempt=False) as holder:
                    if not holder.upload.expired(now):
                        continue  # finished, or its expiry moved, since the listing
                    await self.store.terminate(self._stored(holder.upload))
                    holder.released = await self.state.mark_gone(upload.id, holder.token, reason="expired", now=now)
                    self._hashes.forget(upload.id)
            except TusError:
                continue  # locked: a writer is on it
            except UploadStoreError as exc:
                log.error("upload.expire.failed", upload_id=upload.id, error=str(exc))
                continue
            log.info("upload.expired", upload_id=upload.id, offset=upload.offset, expires_at=upload.expires_at)
            expired.append(upload.id)
        return expired

    async def finish_pending(self) -> list[str]:
        """Finish uploads whose last byte was committed `leftover_after_s` ago but whose finish never ran (a crash in
        between, a finish after the answer cut short, a store down at the finish)."""
        before = self.clock.now() - timedelta(seconds=self.config.leftover_after_s)
        finished: list[str] = []
        for upload in await self.state.complete_unfinished(completed_before=before):
            if not self._later.pending(upload.id) and await self._finish_one(upload.id, wait=0):
                finished.append(upload.id)
        return finished


def _has_body(headers: Headers) -> bool:
    if "transfer-encoding" in headers:
        return True
    value = headers.get("content-length")
    return value is not None and value != "0"
