"""Opening adapters from configuration: the stores from the storage URL, the hub from the Redis URL.

The scaled implementations are imported only when configured: aiobotocore is heavy, and a single process needs
neither it nor a Redis connection.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from app.adapters.hub import Hub, MemoryHub
from app.adapters.local import LocalObjectStore, LocalUploadStore
from app.adapters.storage import ObjectStore
from app.adapters.upload_store import UploadStore


def open_object_store(url: str) -> ObjectStore:
    """`file:///abs/path` (files under path) or `s3://bucket[/prefix]?endpoint=…&region=…` (see app.adapters.s3)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalObjectStore(Path(url2pathname(parsed.path)))
    if parsed.scheme == "s3":
        from app.adapters.s3 import S3ObjectStore

        return S3ObjectStore.from_url(url)
    raise ValueError(f"unsupported storage url {url!r}")


def open_upload_store(url: str) -> UploadStore:
    """The same URLs as `open_object_store`."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalUploadStore(Path(url2pathname(parsed.path)))
    if parsed.scheme == "s3":
        from app.adapters.s3 import S3UploadStore

        return S3UploadStore.from_url(url)
    raise ValueError(f"unsupported storage url {url!r}")


def open_hub(redis_url: str | None) -> Hub:
    """Redis pub/sub when a URL is configured (several processes), else in memory (one process)."""
    if redis_url:
        from app.adapters.redis_hub import RedisHub

        return RedisHub(redis_url)
    return MemoryHub()
