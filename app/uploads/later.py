"""Finishes after the answer: a store whose finish assembles the upload (S3: the last part, complete, a size check)
would hold every phone's last PATCH for it, all at the answer's end. The last byte is durable and committed when
the PATCH answers; the finish runs here, in this process (which holds the running sha256), and one cut short by a
shutdown or a crash is the scheduler's (`TusApp.finish_pending`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

FinishOne = Callable[[str], Awaitable[object]]


class LaterFinishes:
    def __init__(self, finish_one: FinishOne, *, at_once: int = 8) -> None:
        self._finish_one = finish_one
        self._slots = asyncio.Semaphore(at_once)  # S3 calls at once for finishes: the PATCHes keep the rest
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def submit(self, upload_id: str) -> None:
        if upload_id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._run(upload_id))
        self._tasks[upload_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(upload_id, None))

    def pending(self, upload_id: str) -> bool:
        return upload_id in self._tasks

    async def _run(self, upload_id: str) -> None:
        async with self._slots:
            await self._finish_one(upload_id)

    async def settled(self) -> None:
        """Wait for the finishes submitted (and for what each submits after it, e.g. a verification)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
