"""S3 adapters over aiobotocore: the small-blob `S3ObjectStore` and the resumable `S3UploadStore`.

Over 300 lines on purpose: the whole S3 boundary (the calls in `S3API`, their exceptions mapped in `_mapped`) is here.

URL: `s3://bucket[/key/prefix]?endpoint=http://127.0.0.1:8333&region=us-east-1[&access_key=…&secret_key=…]`.
Credentials come from the query (`access_key`, `secret_key`) or else from botocore's usual chain (the
environment's `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, profiles, instance roles). With an `endpoint`
(SeaweedFS, MinIO, …) path-style addressing is used. `part_size=<bytes>` (≥ 5 MiB) tunes multipart uploads,
`max_attempts` (default 3) botocore's retries.

Upload staging (after tusd's s3store): an upload is one multipart upload whose parts are exactly `part_size` bytes
each. Bytes that do not fill a part yet are *staged* as small objects `<key>.part.<random>` listed in the upload's
state, so an acknowledged byte is always in S3 (a part or a staged object) and any replica can continue: it reads
the staged objects back when a part fills. A new staged object never overwrites an old one, so a discarded chunk
(checksum mismatch) leaves the committed state intact. At finish the staged rest becomes the last (small) part.

The aiobotocore calls used are exactly those of `S3API`; botocore's exceptions become ours in `_mapped`.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

from app.adapters.io_threads import run_io
from app.adapters.storage import ObjectNotFound, check_key
from app.adapters.upload_store import (
    WRITE_BATCH,
    NotReadable,
    StoredUpload,
    StoreInfo,
    Tap,
    UploadDataMissing,
    UploadStoreError,
    WriteResult,
)
from app.logs import get_logger

log = get_logger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last (EntityTooSmall below it)
MAX_PARTS = 10_000
# Staged objects per upload before they are merged into one (tiny PATCHes must not grow the list forever).
MAX_STAGED = 32
READ_SIZE = 1024 * 1024


class S3Error(UploadStoreError):
    """S3 refused or could not be reached; `code` is S3's error code when there was one."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class S3API(Protocol):
    """The aiobotocore S3 client calls this module makes (all keyword-only, as botocore wants)."""

    async def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str = ...) -> dict[str, Any]: ...
    async def get_object(self, *, Bucket: str, Key: str, Range: str = ...) -> dict[str, Any]: ...
    async def head_object(self, *, Bucket: str, Key: str) -> dict[str, Any]: ...
    async def delete_object(self, *, Bucket: str, Key: str) -> dict[str, Any]: ...
    async def head_bucket(self, *, Bucket: str) -> dict[str, Any]: ...
    async def create_multipart_upload(self, *, Bucket: str, Key: str) -> dict[str, Any]: ...
    async def upload_part(self, *, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes) -> dict[str, Any]: ...
    async def complete_multipart_upload(
        self, *, Bucket: str, Key: str, UploadId: str, MultipartUpload: dict[str, Any]
    ) -> dict[str, Any]: ...
    async def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str) -> dict[str, Any]: ...


_MISSING_CODES = {"NoSuchKey", "404", "NotFound"}


@contextmanager
def _mapped(operation: str, key: str = "", *, missing_object: bool = True) -> Iterator[None]:
    """botocore/aiohttp exceptions → S3Error (a missing object → UploadDataMissing) at the adapter's boundary."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if missing_object and code in _MISSING_CODES:
            raise UploadDataMissing(f"{operation} {key}: {code}") from exc
        raise S3Error(f"{operation} {key}: {code} {error.get('Message', '')}".strip(), code=code) from exc
    except (TimeoutError, BotoCoreError, OSError) as exc:  # aiohttp's errors are OSError/TimeoutError
        raise S3Error(f"{operation} {key}: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str
    endpoint: str | None
    region: str
    access_key: str | None
    secret_key: str | None
    part_size: int
    max_attempts: int

    @classmethod
    def parse(cls, url: str) -> S3Location:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an s3://bucket url: {url.split('?')[0]!r}")
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        prefix = parsed.path.strip("/")
        part_size = int(query.get("part_size", MIN_PART_SIZE))
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE}")
        return cls(
            bucket=parsed.netloc,
            prefix=f"{prefix}/" if prefix else "",
            endpoint=query.get("endpoint"),
            region=query.get("region", "us-east-1"),
            access_key=query.get("access_key"),
            secret_key=query.get("secret_key"),
            part_size=part_size,
            max_attempts=int(query.get("max_attempts", 3)),
        )


_session: Any = None


def _botocore_session() -> Any:
    """One aiobotocore session per process: each new one parses botocore's S3 model again (~0.5 s)."""
    global _session
    if _session is None:
        from aiobotocore.session import get_session

        _session = get_session()
    return _session


class S3Connection:
    """One aiobotocore client, opened on first use, shared by the stores built on it."""

    def __init__(self, location: S3Location) -> None:
        self.location = location
        self._stack: AsyncExitStack | None = None
        self._client: S3API | None = None
        self._opening = asyncio.Lock()

    async def client(self) -> S3API:
        if self._client is not None:
            return self._client
        async with self._opening:
            if self._client is None:
                from aiobotocore.config import AioConfig

                loc = self.location
                config = AioConfig(
                    s3={"addressing_style": "path"} if loc.endpoint else {},
                    max_pool_connections=64,
                    # S3-compatible servers vary in their support of the newer default trailing checksums.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                    retries={"max_attempts": loc.max_attempts, "mode": "standard"},
                )
                stack = AsyncExitStack()
                self._client = await stack.enter_async_context(
                    _botocore_session().create_client(
                        "s3",
                        endpoint_url=loc.endpoint,
                        region_name=loc.region,
                        aws_access_key_id=loc.access_key,
                        aws_secret_access_key=loc.secret_key,
                        config=config,
                    )
                )
                self._stack = stack
        assert self._client is not None
        return self._client

    async def close(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack, self._client = None, None

    async def ping(self) -> None:
        client = await self.client()
        with _mapped("head_bucket", self.location.bucket, missing_object=False):  # a missing bucket is an error
            await client.head_bucket(Bucket=self.location.bucket)

    async def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        client = await self.client()
        with _mapped("put_object", key):
            await client.put_object(Bucket=self.location.bucket, Key=key, Body=data, ContentType=content_type)

    async def get(self, key: str) -> bytes:
        client = await self.client()
        with _mapped("get_object", key):
            response = await client.get_object(Bucket=self.location.bucket, Key=key)
            async with response["Body"] as body:
                return bytes(await body.read())

    async def delete(self, key: str) -> None:
        client = await self.client()
        with _mapped("delete_object", key):
            await client.delete_object(Bucket=self.location.bucket, Key=key)

    async def size(self, key: str) -> int | None:
        client = await self.client()
        try:
            with _mapped("head_object", key):
                head = await client.head_object(Bucket=self.location.bucket, Key=key)
        except UploadDataMissing:
            return None
        return int(head["ContentLength"])

    async def stream(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes [start, end) of an object."""
        if start >= end:
            return
        client = await self.client()
        with _mapped("get_object", key):
            response = await client.get_object(Bucket=self.location.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
            async with response["Body"] as body:
                async for chunk in body.iter_chunks(READ_SIZE):
                    yield chunk


class S3ObjectStore:
    """The small-blob ObjectStore port (app.adapters.storage) on S3."""

    def __init__(self, connection: S3Connection) -> None:
        self._s3 = connection

    @classmethod
    def from_url(cls, url: str) -> S3ObjectStore:
        return cls(S3Connection(S3Location.parse(url)))

    def _key(self, key: str) -> str:
        return self._s3.location.prefix + check_key(key)

    async def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        await self._s3.put(self._key(key), data, content_type)

    async def get(self, key: str) -> bytes:
        try:
            return await self._s3.get(self._key(key))
        except UploadDataMissing as exc:
            raise ObjectNotFound(key) from exc

    async def delete(self, key: str) -> None:
        await self._s3.delete(self._key(key))  # S3 deletes of a missing key succeed: idempotent like the local store

    async def ping(self) -> None:
        await self._s3.ping()

    async def close(self) -> None:
        await self._s3.close()


@dataclass(frozen=True)
class _Part:
    n: int
    etag: str
    size: int


@dataclass(frozen=True)
class _Staged:
    key: str
    size: int


@dataclass(frozen=True)
class _State:
    mpu: str | None
    parts: tuple[_Part, ...]
    staged: tuple[_Staged, ...]
    complete: bool

    @classmethod
    def load(cls, raw: Any) -> _State:
        return cls(
            mpu=raw.get("mpu"),
            parts=tuple(_Part(p["n"], p["etag"], p["size"]) for p in raw.get("parts", ())),
            staged=tuple(_Staged(s["key"], s["size"]) for s in raw.get("staged", ())),
            complete=bool(raw.get("complete", False)),
        )

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "parts": [{"n": p.n, "etag": p.etag, "size": p.size} for p in self.parts],
            "staged": [{"key": s.key, "size": s.size} for s in self.staged],
        }
        if self.mpu is not None:
            out["mpu"] = self.mpu
        if self.complete:
            out["complete"] = True
        return out


class S3UploadStore:
    """The UploadStore port on S3 multipart uploads (see the module docstring for the staging rule)."""

    assembles_on_finish = True

    def __init__(self, connection: S3Connection) -> None:
        self._s3 = connection
        self.part_size = connection.location.part_size

    @classmethod
    def from_url(cls, url: str) -> S3UploadStore:
        return cls(S3Connection(S3Location.parse(url)))

    @property
    def bucket(self) -> str:
        return self._s3.location.bucket

    def object_key(self, key: str) -> str:
        return self._s3.location.prefix + check_key(key)

    async def create(self, key: str) -> dict[str, Any]:
        # The multipart upload starts with the first full part: short uploads never need one.
        return _State(mpu=None, parts=(), staged=(), complete=False).dump()

    async def write(self, upload: StoredUpload, chunks: AsyncIterable[bytes], *, tap: Tap | None = None) -> WriteResult:
        key = self.object_key(upload.key)
        state = _State.load(upload.state)
        mpu, parts, staged = state.mpu, list(state.parts), list(state.staged)
        staged_size = sum(s.size for s in staged)
        created_mpu: str | None = None
        new_staged: list[str] = []
        buf = bytearray()
        written = 0
        untapped: list[bytes] = []  # pieces not yet handed to `tap` (hashed in a thread, a batch at a time)
        untapped_size = 0
        try:
            async for chunk in chunks:
                written += len(chunk)
                buf += chunk
                if tap is not None:
                    untapped.append(chunk)
                    untapped_size += len(chunk)
                    if untapped_size >= WRITE_BATCH:
                        await run_io(tap, untapped)  # a cancelled request waits for it: no late hashing
                        untapped, untapped_size = [], 0
                if staged_size + len(buf) < self.part_size:
                    continue
                if staged:  # a part fills: the staged bytes go in front
                    buf[0:0] = await self._read_staged(staged)
                    staged, staged_size = [], 0
                while len(buf) >= self.part_size:
                    if mpu is None:
                        mpu = created_mpu = await self._create_mpu(key)
                    part = await self._upload_part(key, mpu, len(parts) + 1, bytes(buf[: self.part_size]))
                    parts.append(part)
                    del buf[: self.part_size]
            if untapped and tap is not None:
                await run_io(tap, untapped)  # a cancelled request waits for it: no late hashing
            if buf:
                if len(staged) >= MAX_STAGED:
                    buf[0:0] = await self._read_staged(staged)
                    staged = []
                piece = _Staged(key=f"{key}.part.{secrets.token_hex(6)}", size=len(buf))
                new_staged.append(piece.key)
                await self._s3.put(piece.key, bytes(buf))
                staged.append(piece)
        except BaseException:
            # Nothing of this write is committed: drop what it created. Parts it uploaded past the committed list
            # are never completed and get overwritten by the next write's parts of the same numbers.
            await asyncio.shield(self._drop(key, new_staged, created_mpu))
            raise
        new_state = _State(mpu=mpu, parts=tuple(parts), staged=tuple(staged), complete=False)
        return WriteResult(written=written, state=new_state.dump())

    async def committed(self, before: StoredUpload, after: StoredUpload) -> None:
        kept = {s.key for s in _State.load(after.state).staged}
        stale = [s.key for s in _State.load(before.state).staged if s.key not in kept]
        await self._delete_quietly(stale)

    async def discard(self, upload: StoredUpload, result: WriteResult) -> None:
        committed = _State.load(upload.state)
        tentative = _State.load(result.state)
        kept = {s.key for s in committed.staged}
        created_mpu = tentative.mpu if committed.mpu is None else None
        await self._drop(self.object_key(upload.key), [s.key for s in tentative.staged if s.key not in kept], created_mpu)

    async def finish(self, upload: StoredUpload) -> dict[str, Any]:
        key = self.object_key(upload.key)
        state = _State.load(upload.state)
        if state.complete:
            return state.dump()
        length = upload.length if upload.length is not None else upload.offset
        # A finish that completed in S3 but crashed before the database commit: the object is already whole.
        if await self._s3.size(key) == length:
            await self._cleanup_after_finish(key, state)
            return _State(mpu=None, parts=(), staged=(), complete=True).dump()
        rest = await self._read_staged(list(state.staged))
        if state.mpu is None:
            await self._s3.put(key, rest)
        else:
            parts = list(state.parts)
            if rest:  # the last part may be small
                parts.append(await self._upload_part(key, state.mpu, len(parts) + 1, rest))
            await self._complete(key, state.mpu, parts)
        total = await self._s3.size(key)
        if total != length:
            raise UploadDataMissing(f"{key}: assembled {total} bytes, expected {length}")
        await self._cleanup_after_finish(key, _State(mpu=None, parts=(), staged=state.staged, complete=False))
        return _State(mpu=None, parts=(), staged=(), complete=True).dump()

    async def terminate(self, upload: StoredUpload) -> None:
        key = self.object_key(upload.key)
        state = _State.load(upload.state)
        await self._drop(key, [s.key for s in state.staged], state.mpu)
        await self._s3.delete(key)

    async def read(self, upload: StoredUpload, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        if not _State.load(upload.state).complete:
            # Parts of an unfinished multipart upload cannot be read back from S3.
            raise NotReadable(f"{upload.key}: S3 uploads are readable once finished")
        end = upload.offset if end is None else end
        async for chunk in self._s3.stream(self.object_key(upload.key), start, end):
            yield chunk

    async def info(self, upload: StoredUpload) -> StoreInfo:
        state = _State.load(upload.state)
        if state.complete:
            size = await self._s3.size(self.object_key(upload.key))
            if size is None:
                raise UploadDataMissing(upload.key)
            return StoreInfo(size=size, complete=True)
        return StoreInfo(size=sum(p.size for p in state.parts) + sum(s.size for s in state.staged), complete=False)

    async def ping(self) -> None:
        await self._s3.ping()

    async def close(self) -> None:
        await self._s3.close()

    # --- the calls --------------------------------------------------------------------------------

    async def _create_mpu(self, key: str) -> str:
        client = await self._s3.client()
        with _mapped("create_multipart_upload", key):
            response = await client.create_multipart_upload(Bucket=self.bucket, Key=key)
        return str(response["UploadId"])

    async def _upload_part(self, key: str, mpu: str, number: int, data: bytes) -> _Part:
        if number > MAX_PARTS:
            raise S3Error(f"{key}: more than {MAX_PARTS} parts; raise part_size", code="TooManyParts")
        client = await self._s3.client()
        with _mapped("upload_part", key):
            response = await client.upload_part(Bucket=self.bucket, Key=key, UploadId=mpu, PartNumber=number, Body=data)
        return _Part(n=number, etag=str(response["ETag"]), size=len(data))

    async def _complete(self, key: str, mpu: str, parts: list[_Part]) -> None:
        client = await self._s3.client()
        with _mapped("complete_multipart_upload", key):
            await client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=mpu,
                MultipartUpload={"Parts": [{"PartNumber": p.n, "ETag": p.etag} for p in parts]},
            )

    async def _read_staged(self, staged: list[_Staged] | tuple[_Staged, ...]) -> bytes:
        out = bytearray()
        for piece in staged:
            data = await self._s3.get(piece.key)
            if len(data) != piece.size:
                raise UploadDataMissing(f"{piece.key}: {len(data)} bytes, expected {piece.size}")
            out += data
        return bytes(out)

    async def _drop(self, key: str, staged_keys: list[str], mpu: str | None) -> None:
        if mpu is not None:
            client = await self._s3.client()
            try:
                with _mapped("abort_multipart_upload", key):
                    await client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=mpu)
            except S3Error as exc:
                if exc.code != "NoSuchUpload":
                    log.warning("upload.store.abort_failed", key=key, error=str(exc))
        await self._delete_quietly(staged_keys)

    async def _cleanup_after_finish(self, key: str, state: _State) -> None:
        await self._delete_quietly([s.key for s in state.staged])

    async def _delete_quietly(self, keys: list[str]) -> None:
        # Leftovers of a finished write only cost space: log and go on (a bucket lifecycle rule sweeps them).
        for k in keys:
            try:
                await self._s3.delete(k)
            except UploadStoreError as exc:
                log.warning("upload.store.delete_failed", key=k, error=str(exc))
