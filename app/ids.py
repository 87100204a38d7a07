"""Time-ordered UUIDs (the UUIDv7 layout, RFC 9562) for rows listed in the order they were written.

Audit entries and proctoring events written in one transaction share their server time; ordering them by this id
keeps the order they happened in (a millisecond clock plus a counter within the process), where uuid4 would not.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def ordered_uuid() -> uuid.UUID:
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms  # a clock step back, or the same millisecond: keep counting
            _counter += 1
            if _counter > 0xFFF:
                ms, _counter = ms + 1, 0
        else:
            _counter = 0
        _last_ms = ms
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    return uuid.UUID(int=value)
