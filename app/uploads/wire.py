"""The tus wire format: header parsing (garbage → 400), Upload-Metadata, checksums, the streamed body reader."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from starlette.types import Message, Receive

from app.uploads import errors
from app.uploads.errors import ErrorSpec, TusError

OFFSET_OCTET_STREAM = "application/offset+octet-stream"
CHECKSUM_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
ZERO_CHAIN = bytes(32)

_NUMBER = re.compile(r"[0-9]{1,19}")
_METADATA_KEY = re.compile(r"[\x21-\x2b\x2d-\x7e]+")  # printable ASCII without space and comma
MAX_METADATA_PAIRS = 32
MAX_METADATA_CHARS = 4096


def number(value: str | None, spec: ErrorSpec) -> int | None:
    """A non-negative integer header; `+1`, `-1`, `1.0`, ` 1x`, 20 digits → 400."""
    if value is None:
        return None
    if not _NUMBER.fullmatch(value) or int(value) > 2**63 - 1:
        raise TusError(spec)
    return int(value)


def parse_metadata(value: str | None) -> dict[str, str]:
    """`key base64,key2 base64,flag` → {"key": "…", "key2": "…", "flag": ""}; values must be UTF-8."""
    if value is None or not value.strip():
        return {}  # tuspy sends an empty header when it has no metadata
    if len(value) > MAX_METADATA_CHARS:
        raise TusError(errors.METADATA_INVALID)
    pairs = value.split(",")
    if len(pairs) > MAX_METADATA_PAIRS:
        raise TusError(errors.METADATA_INVALID)
    out: dict[str, str] = {}
    for pair in pairs:
        fields = pair.strip().split(" ")
        if len(fields) > 2 or not _METADATA_KEY.fullmatch(fields[0]) or fields[0] in out:
            raise TusError(errors.METADATA_INVALID)
        try:
            raw = base64.b64decode(fields[1], validate=True) if len(fields) == 2 else b""
            out[fields[0]] = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise TusError(errors.METADATA_INVALID) from exc
    return out


def format_metadata(metadata: Mapping[str, str]) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" if value else key for key, value in metadata.items())


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes


def parse_checksum(value: str | None) -> Checksum | None:
    if value is None:
        return None
    fields = value.strip().split(" ")
    if len(fields) != 2:
        raise TusError(errors.CHECKSUM_INVALID)
    algorithm, encoded = fields
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise TusError(errors.CHECKSUM_ALGORITHM_UNSUPPORTED)
    try:
        digest = base64.b64decode(encoded, validate=True)
    except binascii.Error as exc:
        raise TusError(errors.CHECKSUM_INVALID) from exc
    if len(digest) != CHECKSUM_ALGORITHMS[algorithm]().digest_size:
        raise TusError(errors.CHECKSUM_INVALID)
    return Checksum(algorithm=algorithm, digest=digest)


def http_date(when: datetime) -> str:
    """RFC 7231 IMF-fixdate, e.g. `Wed, 25 Jun 2014 16:00:00 GMT`."""
    return format_datetime(when.astimezone(UTC), usegmt=True)


def media_type(value: str | None) -> str | None:
    return None if value is None else value.split(";")[0].strip().lower()


def chain(previous_hex: str, chunk_sha256: bytes) -> str:
    """h_n = sha256(h_{n-1} || sha256(chunk_n)); h_0 is 32 zero bytes."""
    return hashlib.sha256(bytes.fromhex(previous_hex) + chunk_sha256).hexdigest()


class BodyTooLong(Exception):
    """The body went past the room left (Upload-Length or the maximum size). Nothing past it was handed on."""


class Body:
    """Streams a request body from ASGI `receive`, piece by piece as the server hands it over (≤ 64 KiB or so
    with uvicorn): the event loop does nothing per piece but pass it on. Stops early, without error, when

    - the client disconnects (`ended == "disconnected"`),
    - no byte arrives for `idle_timeout` seconds (`"timeout"`: a half-open connection of a phone that changed
      networks would otherwise hold the upload's lock until TCP gives up), or
    - `stop` is set (`"preempted"`: a newer request for the same upload wants the lock).

    Hashing is the store's business to schedule: it hands every piece it stores to `absorb`, in order, in a
    worker thread next to the write (sha256 releases the GIL), so the digests cover exactly the stored bytes: the
    chunk's sha256 (for the hash chain and an `Upload-Checksum: sha256`), the checksum's own algorithm otherwise,
    and `whole`, the upload's running sha256 when the caller keeps one.

    Whatever was yielded is what the store keeps; the caller decides from `ended` and the checksum whether to
    commit it.
    """

    def __init__(
        self,
        receive: Receive,
        *,
        stop: asyncio.Event,
        idle_timeout: float,
        limit: int,
        checksum: Checksum | None,
        whole: Any = None,  # a hashlib object continuing the upload's committed bytes, or None
    ) -> None:
        self._receive = receive
        self._stop = stop
        self._idle_timeout = idle_timeout
        self._limit = limit
        self._checksum = checksum
        self._sha256 = hashlib.sha256()
        use_own = checksum is not None and checksum.algorithm != "sha256"
        self._check = CHECKSUM_ALGORITHMS[checksum.algorithm]() if use_own and checksum else None
        self._whole = whole
        self.received = 0  # bytes handed on
        self.absorbed = 0  # bytes hashed (the store absorbs what it stores)
        self.ended = "unread"
        # While the request task waits in receive(), an idle timeout or a preemption interrupts it (cancel +
        # uncancel, as asyncio.timeout does); no task or timer per piece.
        self._task: asyncio.Task[Any] | None = None
        self._waiting_since: float | None = None
        self._interrupt: str | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    @property
    def sha256(self) -> bytes:
        return self._sha256.digest()

    @property
    def checksum_matches(self) -> bool:
        if self._checksum is None:
            return True
        check = self._check if self._check is not None else self._sha256
        return check.digest() == self._checksum.digest

    def absorb(self, pieces: Sequence[bytes | memoryview]) -> None:
        """Hash stored pieces, in order (called by the store, typically in a worker thread)."""
        for piece in pieces:
            self._sha256.update(piece)
            if self._check is not None:
                self._check.update(piece)
            if self._whole is not None:
                self._whole.update(piece)
            self.absorbed += len(piece)

    async def chunks(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        stop_wait = asyncio.ensure_future(self._stop.wait())
        stop_wait.add_done_callback(lambda _: self._interrupt_wait("preempted"))
        self._watchdog = loop.call_later(self._idle_timeout, self._watch)
        try:
            while True:
                message = await self._next(loop)
                if message is None:
                    return
                if message["type"] == "http.disconnect":
                    self.ended = "disconnected"
                    return
                data: bytes = message.get("body", b"")
                if data:
                    if self.received + len(data) > self._limit:
                        raise BodyTooLong
                    self.received += len(data)
                    yield data
                if not message.get("more_body", False):
                    self.ended = "complete"
                    return
        finally:
            if self._watchdog is not None:
                self._watchdog.cancel()
            stop_wait.cancel()

    async def _next(self, loop: asyncio.AbstractEventLoop) -> Message | None:
        if self._stop.is_set():
            self.ended = "preempted"
            return None
        task = self._task
        assert task is not None
        cancelling = task.cancelling()
        self._waiting_since = loop.time()
        try:
            return await self._receive()
        except asyncio.CancelledError:
            if self._interrupt is None or task.uncancel() > cancelling:
                raise  # not ours: the request itself is cancelled
            self.ended = self._interrupt
            return None
        finally:
            self._waiting_since = None

    def _interrupt_wait(self, reason: str) -> None:
        """Wake the request task out of receive() (a no-op unless it is waiting there right now)."""
        if self._waiting_since is not None and self._interrupt is None and self._task is not None:
            self._interrupt = reason
            self._task.cancel()

    def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        since = self._waiting_since
        if since is not None and loop.time() - since >= self._idle_timeout:
            self._interrupt_wait("timeout")
            return
        # Check again when the current wait (or the next one, at the earliest) could have run out.
        due = (since if since is not None else loop.time()) + self._idle_timeout
        self._watchdog = loop.call_at(due, self._watch)
