"""Object store port: small blobs (ID photos, question images, face captures) by key.

Recording uploads stream through the upload store port instead (app.adapters.upload_store). Implementations:
app.adapters.local (files), app.adapters.s3; app.adapters.factory opens one from the storage URL.
"""

from __future__ import annotations

import re
from typing import Protocol

_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,299}$")


class ObjectNotFound(Exception):
    pass


class ObjectStore(Protocol):
    async def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None: ...
    async def get(self, key: str) -> bytes: ...
    async def delete(self, key: str) -> None: ...
    async def ping(self) -> None:
        """Raise if the store cannot be used (readiness probe)."""
        ...


def check_key(key: str) -> str:
    if not _KEY_RE.match(key) or ".." in key.split("/"):
        raise ValueError(f"bad object key {key!r}")
    return key
