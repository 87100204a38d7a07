"""The roster's ID photos, from a zip (API and CLI) or a folder (CLI), by base file name, within bounds.

A zip states its entries' sizes in its central directory, and those are checked before anything is inflated: a
470 KB zip of 49 × 10 MB of zeros would otherwise take half a gigabyte of memory (every photo is held until the
all-or-nothing import is done). Limits, and why:

- entries: 2 × MAX_ROWS, a photo per row plus the `__MACOSX/._name` twin macOS adds for each. Counted before
  zipfile builds an object per central-directory record (~0.5 KB each: 500 MB of empty entries would be 3 GB).
- per entry: the image limit (MAX_IMAGE_BYTES, 10 MB). A larger entry is never inflated; its row is refused.
- in all: MAX_EXPANDED_BYTES (500 MB, the size of the largest upload), and at most 2 × the archive's own size plus
  10 MiB. JPEG and PNG are compressed already and deflate by a few percent at most, so a photo archive expands by
  about 1×; the slack is for a few small files that do compress (a CSV, Thumbs.db). Only bombs go past it.
- while inflating, an entry is read with a cap: one that holds more than its header says is refused.
"""

from __future__ import annotations

import zipfile
import zlib
from io import BytesIO
from pathlib import Path, PurePosixPath

from app import errors
from app.services.exam.roster import MAX_ROWS
from app.services.images import MAX_IMAGE_BYTES

MAX_ARCHIVE_BYTES = 500 * 1024 * 1024
MAX_PHOTO_BYTES = MAX_IMAGE_BYTES
MAX_ENTRIES = 2 * MAX_ROWS
MAX_EXPANDED_BYTES = MAX_ARCHIVE_BYTES
EXPANSION_FACTOR = 2
EXPANSION_SLACK = 10 * 1024 * 1024

# Each central-directory record starts with this signature, and zipfile checks it: counting it bounds the records
# (a stated entry count could lie). In compressed bytes it turns up about once in 4 GB by chance.
_DIRECTORY_RECORD = b"PK\x01\x02"


def expansion_limit(archive_bytes: int) -> int:
    return min(MAX_EXPANDED_BYTES, EXPANSION_FACTOR * archive_bytes + EXPANSION_SLACK)


def _too_large(reason: str, limit: int, found: int) -> errors.DualcamError:
    return errors.PhotoArchiveTooLarge(details={"reason": reason, "limit": limit, "found": found})


def _entry_name(info: zipfile.ZipInfo) -> str:
    """Without the UTF-8 flag zipfile reads a name as cp437; the bytes are really UTF-8 (macOS, Info-ZIP) or
    GBK (Chinese Windows). Strict UTF-8 first: GBK names are almost never valid UTF-8, while GB18030 would
    turn UTF-8 bytes into other characters."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> bytes:
    # zipfile itself stops at the declared size; the cap does not rely on that.
    try:
        with archive.open(info) as entry:
            data = entry.read(info.file_size + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # A damaged entry, an unknown compression method, or an encrypted one (RuntimeError: password required).
        raise errors.PhotoArchiveUnreadable(details={"entry": name}) from exc
    if len(data) > info.file_size:
        raise errors.PhotoArchiveUnreadable(details={"entry": name, "reason": "larger than its header says"})
    return data


def read_photo_archive(data: bytes) -> dict[str, bytes | None]:
    """Photos by base file name (None: larger than a photo may be, so its row gets a precise error). Zips made
    on Chinese Windows store GBK names without the UTF-8 flag."""
    if (records := data.count(_DIRECTORY_RECORD)) > MAX_ENTRIES:
        raise _too_large("entries", MAX_ENTRIES, records)
    try:
        archive = zipfile.ZipFile(BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise errors.PhotoArchiveUnreadable() from exc
    with archive:
        files = [info for info in archive.infolist() if not info.is_dir()]
        if len(files) > MAX_ENTRIES:
            raise _too_large("entries", MAX_ENTRIES, len(files))
        wanted = [info for info in files if info.file_size <= MAX_PHOTO_BYTES]
        expanded, limit = sum(info.file_size for info in wanted), expansion_limit(len(data))
        if expanded > limit:
            raise _too_large("expanded_bytes", limit, expanded)
        photos: dict[str, bytes | None] = {}
        for info in files:
            name = _entry_name(info)
            photos[PurePosixPath(name).name] = _inflate(archive, info, name) if info.file_size <= MAX_PHOTO_BYTES else None
    return photos


def read_photo_folder(path: Path) -> dict[str, bytes | None]:
    """The CLI's folder of photos, within the same bounds (sizes from the file system, before reading)."""
    files = [p for p in path.iterdir() if p.is_file()]
    if len(files) > MAX_ENTRIES:
        raise _too_large("entries", MAX_ENTRIES, len(files))
    sizes = {p: p.stat().st_size for p in files}
    total = sum(size for size in sizes.values() if size <= MAX_PHOTO_BYTES)
    if total > MAX_EXPANDED_BYTES:
        raise _too_large("expanded_bytes", MAX_EXPANDED_BYTES, total)
    return {p.name: p.read_bytes() if size <= MAX_PHOTO_BYTES else None for p, size in sizes.items()}
