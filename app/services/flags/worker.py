"""What runs in an analysis worker process: the face engine, loaded once per process by the pool's initializer,
and the analysis of one recording file (app.flags), its progress sent back to the runner on a queue.

Imported by the worker processes on their own (spawned, not forked: a fork of a process with onnxruntime threads and
an event loop is unsafe), so it imports only what the analysis needs."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from app.face.engine import FaceEngine, load_engine
from app.flags.analysis import Analysis, VideoUnreadable, analyze
from app.flags.thresholds import Thresholds

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

_engine: FaceEngine | None = None
_progress: Queue[tuple[str, float]] | None = None
NICENESS = 10
PROGRESS_STEP = 0.01  # the least progress worth a message (at most 100 per job)


def start(model_dir: str, pack: str, progress: Queue[tuple[str, float]]) -> None:
    """The pool's initializer: load the engine once for every job this process will run."""
    global _engine, _progress
    # Analysis can wait; the server's requests (face gate, uploads, pushes) cannot: on a busy machine the kernel
    # gives the serving process the cores first.
    os.nice(NICENESS)
    _engine = load_engine(Path(model_dir), pack)
    _progress = progress
    _trim()  # loading parses the ONNX graph twice; give those freed pages back to the system

@dataclass(frozen=True, slots=True)
class Task:
    job_id: str
    path: str
    role: str
    reference: bytes | None  # the enrolled embedding, little-endian float32
    thresholds: Thresholds


@dataclass(frozen=True, slots=True)
class Memory:
    """A worker's memory after a job, from Linux's /proc/self/status.

    `private_mb` (RssAnon) is what the worker holds of its own: the models, the decoder, the frames. `rss_mb` adds
    the pages of the shared libraries' code (OpenCV, onnxruntime, FFmpeg: ~160 MB), mapped once for every process
    that loads them. `peak_mb` is the high-water mark of the whole, loading the models included. Not getrusage's
    ru_maxrss: it is kept across exec, so a worker spawned by a big server would report the server's size."""

    rss_mb: float
    private_mb: float
    peak_mb: float

    @classmethod
    def now(cls) -> Memory:
        found: dict[str, float] = {}
        with open("/proc/self/status") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmRSS", "RssAnon", "VmHWM"):
                    found[name] = round(int(value.split()[0]) / 1024, 1)  # kB
        return cls(found["VmRSS"], found["RssAnon"], found["VmHWM"])


@dataclass(frozen=True, slots=True)
class Outcome:
    analysis: Analysis | None
    reason: str | None  # why the file could not be analysed (VideoUnreadable), when it could not
    memory: Memory
    niceness: int = NICENESS  # the worker's, as the kernel schedules it (os.nice(0))


def analyse(task: Task) -> Outcome:
    assert _engine is not None and _progress is not None, "start() runs first (the pool's initializer)"
    queue = _progress
    sent = [0.0]

    def progress(fraction: float) -> None:
        if fraction - sent[0] >= PROGRESS_STEP:
            sent[0] = fraction
            queue.put((task.job_id, fraction))

    reference = None if task.reference is None else np.frombuffer(task.reference, dtype="<f4")
    try:
        analysis = analyze(Path(task.path), role=task.role, engine=_engine, reference=reference, thresholds=task.thresholds, progress=progress)
    except VideoUnreadable as exc:
        return Outcome(None, exc.reason, _after_job(), os.nice(0))
    return Outcome(analysis, None, _after_job(), os.nice(0))


def _after_job() -> Memory:
    _trim()
    return Memory.now()


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")


def _trim() -> None:
    """Return the heap's free pages to the system. glibc keeps freed memory for reuse, so a worker's resident size
    would stay at the high-water mark of its biggest frame or model parse; trimmed, it shows what is really held."""
    trim = getattr(_libc, "malloc_trim", None)  # glibc only (musl has none)
    if trim is not None:
        trim(0)
