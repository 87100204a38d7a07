"""Recording analysis of one sitting's pair (main + aux) beside the bare decode of the same two files, same run, same
machine; prints one JSON document.

    .venv/bin/python bench/flags_bench.py [--minutes 10] [--workers N] [--fps 15]

The pair is what the phones upload (docs/phone-apps.md, clients/common/media.js): 640×480 VP8 + Opus WebM at
600 kbit/s, `--fps` frames a second (the apps ask for 15, at most 30), `--minutes` long, made by tests/support/videos.py
from the photos in tests/data/faces and kept under var/bench/flags/ (a rerun does not encode again). The main phone
shows the candidate, with a few stretches that flag (turned away, nobody, two faces, someone else, dark, a muted
microphone); the aux phone shows the room (two faces, covered, frozen). The main phone's reference is the enrolled
embedding of another photo of the candidate (person_a_2.jpg), as the runner passes it.

- `bare_decode` (the baseline): PyAV decodes every frame of both streams of each file — video with the frame threads
  the analysis uses, and the sound — and nothing else, in the same number of spawned processes as the analysis;
  measured before and after the analysis (a busy neighbour shows as a difference), the faster one is the baseline.
- `analysis`: what production runs (app.services.flags.runner): a spawned ProcessPoolExecutor of `--workers`
  processes (default: the `flags_workers` setting) with the same initializer (`worker.start`: the face engine loaded
  once per process) and `max_tasks_per_child`; each file is one `worker.Task` given to `worker.analyse`, so with 2
  workers both files run at once and with 1 they run one after the other (`mode` says which). The pool is started
  (and every worker has loaded the engine) before the clock starts: a running server keeps its pool. `pair_s` is
  the wall time from submitting both tasks to both results.
- memory, per worker: `after_load` (once the engine is loaded), `after_job` (worker.Memory: VmRSS, RssAnon and the
  VmHWM high-water mark), and `sampled_peak_*` (this process reading /proc/<pid>/status every 0.2 s while the jobs
  run). `private` (RssAnon) is what one worker holds of its own; `rss` adds the shared libraries' pages.

Targets (the issue): the pair in at most a tenth of its duration (60 s for 10 minutes) and at most twice the bare
decode, on this machine's cores; each worker at most 300 MB of its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from queue import Empty
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# OpenCV 5's graph-engine notice at each model load (`dualcam flags analyze` silences it too); read when cv2 is first
# imported, here and in the spawned workers, which inherit the environment.
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

# Spawned workers import this module again (as __mp_main__): the heavy imports stay inside the functions, so a
# worker holds what app.services.flags.worker loads and no more.
from app.services.flags import worker  # noqa: E402

CACHE = ROOT / "var" / "bench" / "flags"
SIZE = (640, 480)
BIT_RATE = 600_000  # the phones' MediaRecorder videoBitsPerSecond (docs/phone-apps.md)
ID_PHOTO = ROOT / "tests" / "data" / "faces" / "person_a_2.jpg"
SCENARIO = "1"  # bump when the stretches below change: the cached files are made again
TARGET_SHARE = 0.1  # the pair within a tenth of its duration
TARGET_RATIO = 2.0
TARGET_WORKER_MB = 300.0
MiB = 1024 * 1024


# --- the recordings ------------------------------------------------------------------------------------------------


def _scenario(role: str, seconds: float) -> list[Any]:
    """The role's stretches: its base scene with its events spread evenly (an event that no longer fits is left out)."""
    from tests.support.videos import Stretch

    if role == "main":
        base = "person"
        events = [
            Stretch(8, "away"), Stretch(5, "nobody"), Stretch(6, "two"), Stretch(6, "impostor"), Stretch(12, "dark"),
            Stretch(70, "person", sound=False),
        ]  # fmt: skip
    else:
        base = "nobody"  # the room and the desk from the side: rarely a whole face
        events = [Stretch(6, "two"), Stretch(12, "covered"), Stretch(15, "frozen")]
    while events and sum(e.seconds for e in events) + 10 * (len(events) + 1) > seconds:
        events.pop()
    gap = (seconds - sum(e.seconds for e in events)) / (len(events) + 1)
    stretches = []
    for event in events:
        stretches += [Stretch(gap, base), event]
    return [*stretches, Stretch(seconds - sum(s.seconds for s in stretches), base)]


def recording(role: str, minutes: float, fps: float) -> tuple[Path, bool]:
    """The cached file of this role, length and frame rate (made when missing); whether it was made now."""
    path = CACHE / f"{role}-{minutes:g}min-{fps:g}fps-s{SCENARIO}.webm"
    if path.exists():
        return path, False
    from tests.support.videos import write

    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial-{os.getpid()}.webm")  # the suffix picks the container
    try:
        write(partial, _scenario(role, minutes * 60), fps=fps, size=SIZE, bit_rate=BIT_RATE)
        partial.rename(path)
    finally:
        partial.unlink(missing_ok=True)
    return path, True


def reference_embedding(settings: Any) -> bytes:
    """The enrolled embedding of the ID photo, little-endian float32 (what the runner gives a main job)."""
    import numpy as np

    from app.face.engine import enroll, load_engine
    from app.face.images import decode_image

    enrolled = enroll(load_engine(settings.resolved_face_model_dir, settings.face_pack), decode_image(ID_PHOTO.read_bytes()))
    assert enrolled.embedding is not None, f"no face in {ID_PHOTO}"
    return np.asarray(enrolled.embedding, dtype="<f4").tobytes()


# --- what the spawned processes run ------------------------------------------------------------------------------


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of the process
    return usage.ru_utime + usage.ru_stime


def _decode(path: str) -> dict[str, Any]:
    """The baseline: every video and audio frame decoded, nothing else (the streams set up as app.flags.video does)."""
    import av

    started, cpu = time.perf_counter(), _cpu_s()
    video_frames = audio_frames = 0
    with av.open(path) as container:
        video = container.streams.video[0]
        video.thread_type = "AUTO"
        for packet in container.demux(*container.streams.video[:1], *container.streams.audio[:1]):
            for frame in packet.decode():
                if packet.stream is video:
                    video_frames += 1
                else:
                    audio_frames += 1
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_s": round(_cpu_s() - cpu, 2),
        "video_frames": video_frames,
        "audio_frames": audio_frames,
    }


def _ready(gate: str, workers: int) -> tuple[int, dict[str, float], float]:
    """Warm-up: holds its worker until every worker has one, so each of them is started (its initializer run, PyAV
    imported) before the clock starts."""
    import av  # noqa: F401  (the decode pool has no initializer: its first file would pay the import)

    Path(gate, str(os.getpid())).touch()
    deadline = time.monotonic() + 300
    while len(os.listdir(gate)) < workers and time.monotonic() < deadline:
        time.sleep(0.05)
    memory = worker.Memory.now()
    return os.getpid(), {"rss_mb": memory.rss_mb, "private_mb": memory.private_mb, "peak_mb": memory.peak_mb}, round(_cpu_s(), 2)


def _job(task: worker.Task) -> tuple[int, worker.Outcome, float, float]:
    """worker.analyse as the runner submits it, with the worker's pid, wall and CPU seconds."""
    started, cpu = time.perf_counter(), _cpu_s()
    outcome = worker.analyse(task)
    return os.getpid(), outcome, round(time.perf_counter() - started, 2), round(_cpu_s() - cpu, 2)


# --- the parent ------------------------------------------------------------------------------------------------------


def _spawned_pool(workers: int, **kwargs: Any) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"), **kwargs)


def _warm(pool: ProcessPoolExecutor, workers: int) -> list[tuple[int, dict[str, float], float]]:
    """Every worker of the pool started, each holding one warm-up task until all have theirs."""
    with tempfile.TemporaryDirectory(prefix="flags-bench-") as gate:
        return [f.result() for f in [pool.submit(_ready, gate, workers) for _ in range(workers)]]


def bare_decode(paths: dict[str, Path], workers: int) -> dict[str, Any]:
    with _spawned_pool(workers) as pool:
        _warm(pool, workers)
        started = time.perf_counter()
        futures = {role: pool.submit(_decode, str(path)) for role, path in paths.items()}
        found = {role: future.result() for role, future in futures.items()}
        return {"pair_s": round(time.perf_counter() - started, 2), **found}


class Sampler:
    """Reads VmRSS and RssAnon of the given processes every `every` seconds; keeps each one's highest."""

    def __init__(self, pids: list[int], every: float = 0.2) -> None:
        self.peaks: dict[int, dict[str, float]] = {pid: {"rss_mb": 0.0, "private_mb": 0.0} for pid in pids}
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            for pid, peak in self.peaks.items():
                try:
                    text = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                for line in text.splitlines():
                    name, _, value = line.partition(":")
                    key = {"VmRSS": "rss_mb", "RssAnon": "private_mb"}.get(name)
                    if key:
                        peak[key] = max(peak[key], round(int(value.split()[0]) / 1024, 1))


def analysis(paths: dict[str, Path], workers: int, settings: Any, reference: bytes) -> dict[str, Any]:
    from app.flags.thresholds import Thresholds

    context = multiprocessing.get_context("spawn")
    progress = context.Queue()
    thresholds = Thresholds.of(settings)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=worker.start,
        initargs=(str(settings.resolved_face_model_dir), settings.face_pack, progress),
        max_tasks_per_child=settings.flags_tasks_per_child,
    )
    try:
        started = time.perf_counter()
        warm = _warm(pool, workers)
        pool_start_s = round(time.perf_counter() - started, 2)
        pids = [pid for pid, _, _ in warm]
        tasks = {role: worker.Task(f"bench-{role}", str(path), role, reference if role == "main" else None, thresholds) for role, path in paths.items()}
        with Sampler(pids) as sampler:
            started = time.perf_counter()
            futures = {role: pool.submit(_job, task) for role, task in tasks.items()}
            done = {role: future.result() for role, future in futures.items()}
            pair_s = round(time.perf_counter() - started, 2)
    finally:
        pool.shutdown(wait=True)
    messages: Counter[str] = Counter()
    while True:
        try:
            job_id, _ = progress.get(timeout=0.5)
        except Empty:
            break
        messages[job_id] += 1
    progress.close()
    roles: dict[str, Any] = {}
    for role, (pid, outcome, seconds, cpu) in done.items():
        found = outcome.analysis
        assert found is not None, f"{role}: {outcome.reason}"
        roles[role] = {
            "seconds": seconds,
            "cpu_s": cpu,
            "worker_pid": pid,
            "duration_s": found.duration_s,
            "samples": found.samples,
            "embeddings": found.embeddings,
            "has_audio": found.has_audio,
            "flags": dict(sorted(Counter(f.kind for f in found.flags).items())),
            "progress_messages": messages[f"bench-{role}"],
        }
    memory = []
    for pid, after_load, load_cpu in warm:
        jobs = [(role, outcome.memory) for role, (p, outcome, _, _) in done.items() if p == pid]
        last = jobs[-1][1] if jobs else None
        memory.append({
            "pid": pid,
            "jobs": [role for role, _ in jobs],
            "start_cpu_s": load_cpu,
            "after_load": after_load,
            "after_job": None if last is None else {"rss_mb": last.rss_mb, "private_mb": last.private_mb, "peak_mb": last.peak_mb},
            "sampled_peak_rss_mb": sampler.peaks[pid]["rss_mb"],
            "sampled_peak_private_mb": sampler.peaks[pid]["private_mb"],
        })  # fmt: skip
    return {"pool_start_s": pool_start_s, "pair_s": pair_s, **roles, "workers_memory": memory}


def _target(value: float, limit: float) -> dict[str, Any]:
    return {"value": value, "limit": limit, "pass": value <= limit}


def bench(args: argparse.Namespace) -> dict[str, Any]:
    from app.config import Settings

    settings = Settings()
    workers = args.workers or settings.flags_workers
    made = {}
    paths = {}
    for role in ("main", "aux"):
        started = time.perf_counter()
        paths[role], fresh = recording(role, args.minutes, args.fps)
        made[role] = {"path": str(paths[role].relative_to(ROOT)), "mib": round(paths[role].stat().st_size / MiB, 1),
                      "made_now_s": round(time.perf_counter() - started, 1) if fresh else None}  # fmt: skip
    reference = reference_embedding(settings)
    result: dict[str, Any] = {
        "minutes": args.minutes,
        "recordings": {"size": f"{SIZE[0]}x{SIZE[1]}", "fps": args.fps, "codec": "VP8 + Opus, WebM", "video_kbit_s": BIT_RATE // 1000, **made},
        "cpus": os.cpu_count(),
        "workers": workers,
        "mode": "parallel: both files at once, one worker each" if workers >= 2 else "sequential: one worker, main then aux",
        "pack": settings.face_pack,
        "sample_fps": settings.flags_sample_fps,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    before = bare_decode(paths, workers)
    analysed = analysis(paths, workers, settings, reference)
    after = bare_decode(paths, workers)
    baseline = min(before["pair_s"], after["pair_s"])
    result["bare_decode"] = {"pair_s": baseline, "pair_s_before": before["pair_s"], "pair_s_after": after["pair_s"],
                             **{role: min(before[role], after[role], key=lambda d: d["seconds"]) for role in paths}}  # fmt: skip
    result["analysis"] = analysed
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    duration = max(analysed[role]["duration_s"] for role in paths)
    ratio = round(analysed["pair_s"] / baseline, 2)
    result["ratio_analysis_to_decode"] = ratio
    result["real_time_share"] = round(analysed["pair_s"] / duration, 4)
    memory = analysed["workers_memory"]
    result["targets"] = {
        "pair_s_within_tenth_of_duration": _target(analysed["pair_s"], round(duration * TARGET_SHARE, 1)),
        "pair_within_2x_bare_decode": _target(ratio, TARGET_RATIO),
        # What one worker adds (RssAnon), at its highest while the jobs ran: the bound.
        "worker_private_mb": _target(max(m["sampled_peak_private_mb"] for m in memory), TARGET_WORKER_MB),
        # The whole resident set's high-water mark, shared library pages and the engine's load included: stricter.
        "worker_peak_rss_mb": _target(max(m["after_job"]["peak_mb"] for m in memory if m["after_job"]), TARGET_WORKER_MB),
    }
    result["all_pass"] = all(t["pass"] for t in result["targets"].values())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each recording")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: the flags_workers setting)")
    parser.add_argument("--fps", type=float, default=15.0, help="frames a second of the recordings (phones: 15, at most 30)")
    args = parser.parse_args()
    if args.minutes <= 0 or args.fps <= 0 or (args.workers is not None and args.workers < 1):
        parser.error("--minutes and --fps must be above 0, --workers at least 1")
    print(json.dumps(bench(args), indent=2))


if __name__ == "__main__":
    main()
