"""The sha256 of each upload, kept running while its bytes come in, so finishing needs no read-back.

hashlib objects cannot be saved, so this lives in the process's memory and is only a shortcut. An entry is tied
to the committed state it covers — the upload's offset *and* its hash chain (h_n = sha256(h_{n-1} || sha256(chunk_n))
over every committed write), which pins down the bytes themselves. It is used only when both still match:

- the first write of an upload (offset 0) starts one; each committed write continues it with exactly the bytes
  the store stored (the store hands them to the hasher in its worker thread, next to the write);
- a write that is not committed (checksum mismatch, lost lock, crash of the request) drops it;
- bytes another replica committed change the chain: the entry no longer matches, and so does not count;
- a restarted process has none.

Without a matching entry the finish reads the upload back once (app.uploads.tus). Memory: one hashlib object
(~0.2 KiB) per unfinished upload this process wrote, at most `limit` of them (the oldest go first).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from app.uploads.state import Upload


@dataclass
class _Entry:
    offset: int
    chain: str
    hasher: Any  # hashlib.sha256 object


class RunningHashes:
    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def take(self, upload: Upload) -> Any:
        """A hasher over exactly the upload's committed bytes, now owned by the caller (a write under the lock);
        None when there is none to continue (give it back with `keep` or let it go)."""
        entry = self._entries.pop(upload.id, None)
        if entry is not None and entry.offset == upload.offset and entry.chain == upload.chain_sha256:
            return entry.hasher
        if upload.offset == 0:
            return hashlib.sha256()
        return None

    def keep(self, upload: Upload, hasher: Any) -> None:
        """`hasher` covers exactly the bytes of `upload` as committed."""
        self._entries[upload.id] = _Entry(offset=upload.offset, chain=upload.chain_sha256, hasher=hasher)
        self._entries.move_to_end(upload.id)
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)

    def digest(self, upload: Upload) -> str | None:
        """The upload's sha256 (hex) if this process saw all of its committed bytes, else None."""
        entry = self._entries.get(upload.id)
        if entry is None or entry.offset != upload.offset or entry.chain != upload.chain_sha256:
            return None
        return str(entry.hasher.hexdigest())

    def forget(self, upload_id: str) -> None:
        self._entries.pop(upload_id, None)
