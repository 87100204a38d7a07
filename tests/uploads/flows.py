"""Shared pieces of the upload tests: permissive callbacks, the tiny app, small tus client steps."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from fastapi import FastAPI
from starlette.requests import Request

from app.uploads import CreateDecision, Caller, TusApp, TusConfig, TusError, TusHooks, Upload, errors
from tests.support.seaweed import Seaweed

MOUNT = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}
# Short waits so lock tests stay fast; real defaults are in TusConfig.
TEST_CONFIG = TusConfig(max_size=64 * 1024 * 1024, lock_wait_s=3.0, lease_s=60.0, heartbeat_s=0.05, body_idle_timeout_s=5.0)


@dataclass
class Rules:
    """Permissive callbacks that tests adjust: owner from the bearer token, everything allowed."""

    expires_at: datetime | None = None
    max_size: int | None = None
    existing_upload_id: str | None = None
    upload_id: str | None = None
    refuse_write: errors.ErrorSpec | None = None
    created: list[tuple[str, Mapping[str, str], int | None]] = field(default_factory=list)
    finished: list[Upload] = field(default_factory=list)

    async def authorize(self, request: Request) -> Caller:
        token = request.headers.get("authorization", "Bearer phone-1").removeprefix("Bearer ")
        if token == "nobody":
            raise TusError(errors.UNAUTHORIZED)
        return Caller(owner=token)

    async def pre_create(self, principal: Caller, metadata: Mapping[str, str], length: int | None) -> CreateDecision:
        self.created.append((principal.owner, dict(metadata), length))
        return CreateDecision(
            upload_id=self.upload_id,
            existing_upload_id=self.existing_upload_id,
            expires_at=self.expires_at,
            max_size=self.max_size,
            subject=metadata.get("subject"),
        )

    async def pre_write(self, principal: Caller, upload: Upload) -> None:
        if self.refuse_write is not None:
            raise TusError(self.refuse_write)

    async def post_finish(self, upload: Upload) -> None:
        self.finished.append(upload)

    def hooks(self) -> TusHooks:
        return TusHooks(
            authorize=self.authorize, pre_create=self.pre_create, pre_write=self.pre_write, post_finish=self.post_finish
        )


def make_app(tus: TusApp) -> FastAPI:
    app = FastAPI()
    app.mount(MOUNT, tus)
    return app


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=TUS)


async def create_bucket(server: Seaweed, name: str) -> None:
    from app.adapters.s3 import _botocore_session

    async with _botocore_session().create_client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=server.region,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
    ) as client:
        for attempt in range(50):  # the filer may lag the gateway for a moment after start
            try:
                await client.create_bucket(Bucket=name)
                return
            except Exception:
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)


OCTET = {"Content-Type": "application/offset+octet-stream"}


async def create(client: httpx.AsyncClient, length: int | None, **headers: str) -> str:
    """POST; returns the upload's URL path. `length=None` defers the length."""
    sizing = {"Upload-Defer-Length": "1"} if length is None else {"Upload-Length": str(length)}
    response = await client.post(f"{MOUNT}/", headers={**sizing, **headers})
    assert response.status_code == 201, response.text
    return response.headers["location"]


async def patch(client: httpx.AsyncClient, url: str, offset: int, data: bytes, **headers: str) -> httpx.Response:
    return await client.patch(url, content=data, headers={**OCTET, "Upload-Offset": str(offset), **headers})


async def offset_of(client: httpx.AsyncClient, url: str) -> int:
    response = await client.head(url)
    assert response.status_code == 200, response.status_code
    return int(response.headers["upload-offset"])


def checksum(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def upload_id(url: str) -> str:
    return url.rsplit("/", 1)[1]


class Trickle:
    """A request body that sends `head`, then waits (a phone whose connection went quiet) until released."""

    def __init__(self, head: bytes, tail: bytes = b"") -> None:
        self.head = head
        self.tail = tail
        self.sent_head = asyncio.Event()
        self.release = asyncio.Event()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        self.sent_head.set()
        await self.release.wait()
        if self.tail:
            yield self.tail


def chain_of(chunks: list[bytes]) -> str:
    value = bytes(32)
    for chunk in chunks:
        value = hashlib.sha256(value + hashlib.sha256(chunk).digest()).digest()
    return value.hex()
