"""Adapters opened from configuration: the storage URL's scheme picks the stores, a Redis URL the hub."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.adapters.factory import open_hub, open_object_store, open_upload_store
from app.adapters.hub import MemoryHub
from app.adapters.local import LocalObjectStore, LocalUploadStore

pytestmark = pytest.mark.anyio


def test_file_urls_open_the_local_stores(tmp_path: Path) -> None:
    objects = open_object_store(tmp_path.as_uri())
    uploads = open_upload_store((tmp_path / "uploads").as_uri())
    assert isinstance(objects, LocalObjectStore) and objects.root == tmp_path
    assert isinstance(uploads, LocalUploadStore) and uploads.root == tmp_path / "uploads"


@pytest.mark.parametrize("opener", [open_object_store, open_upload_store])
def test_unknown_schemes_are_refused(opener: object) -> None:
    with pytest.raises(ValueError, match="unsupported storage url"):
        opener("ftp://example.org/bucket")  # type: ignore[operator]


def test_s3_urls_open_the_s3_stores() -> None:
    from app.adapters.s3 import S3ObjectStore, S3UploadStore

    url = "s3://bucket/prefix?endpoint=http://127.0.0.1:1&region=us-east-1&access_key=a&secret_key=b"
    assert isinstance(open_object_store(url), S3ObjectStore)
    assert isinstance(open_upload_store(url), S3UploadStore)


async def test_no_redis_url_is_the_memory_hub() -> None:
    hub = open_hub(None)
    assert isinstance(hub, MemoryHub)
    await hub.close()


async def test_a_redis_url_is_the_redis_hub() -> None:
    from app.adapters.redis_hub import RedisHub

    hub = open_hub("redis://127.0.0.1:1/0")  # no connection until the hub is used
    assert isinstance(hub, RedisHub)
    await hub.close()


def test_the_local_adapters_load_without_the_scaled_ones() -> None:
    """aiobotocore and redis are imported only when a URL asks for them."""
    code = "import sys, app.adapters.factory; print(sorted(m for m in ('aiobotocore', 'redis') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
