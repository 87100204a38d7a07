"""The process's upload I/O threads: blocking file work and hashing of every upload store, off the event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Callable
from typing import Any

IO_THREADS = 32  # blocking file work (writes, fdatasync) of all uploads; threads mostly wait on the disk

_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def io_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The process's file-I/O threads (not asyncio's default executor: fdatasyncs of many uploads would fill it)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = concurrent.futures.ThreadPoolExecutor(IO_THREADS, thread_name_prefix="upload-io")
    return _pool


async def run_io(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn` in the I/O threads; a cancelled caller still waits for a job that already started."""
    future = io_pool().submit(fn, *args)
    try:
        return await asyncio.wrap_future(future)
    except BaseException:
        settle(future)
        raise


def settle(future: concurrent.futures.Future[Any], *, close_fd: bool = False) -> None:
    """Wait for a job we no longer await (cancelled or failed request); close the fd it opened, if asked."""
    concurrent.futures.wait([future])
    if close_fd and not future.cancelled() and future.exception() is None:
        os.close(future.result())
