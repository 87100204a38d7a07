"""Uploads' facts and bytes, read only, without the protocol server: for work outside a request (the analysis
runner of `dualcam flags run`), where no TusApp is mounted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from app.adapters.upload_store import StoredUpload, UploadStore
from app.uploads.state import Upload, UploadState


class UploadFiles:
    def __init__(self, *, state: UploadState, store: UploadStore) -> None:
        self._state = state
        self._store = store

    async def get(self, upload_id: str) -> Upload | None:
        return await self._state.get(upload_id)

    async def get_many(self, upload_ids: Sequence[str]) -> dict[str, Upload]:
        return await self._state.get_many(upload_ids)

    def local_path(self, upload: Upload) -> Path | None:
        capability = getattr(self._store, "local_path", None)
        return capability(_stored(upload)) if capability is not None else None

    def read(self, upload: Upload) -> AsyncIterator[bytes]:
        return self._store.read(_stored(upload), 0, upload.offset)


def _stored(upload: Upload) -> StoredUpload:
    return StoredUpload(key=upload.storage_key, offset=upload.offset, length=upload.length, state=upload.store_state)
