"""The analysis of one recording: its samples looked at in one streamed pass, then each kind's findings smoothed
into flags (app.flags.smoothing; thresholds in app.flags.thresholds, documented in docs/flags.md).

Main: no_face, several_faces, different_person (needs the enrolled embedding), looking_away, poor_video (dark,
covered, blurred or frozen), audio_silent. Aux: several_faces (another person in the room), poor_video (covered,
dark or frozen; an aux view of the desk is often out of focus, so blur does not count there).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.face.engine import FaceEngine
from app.flags import (
    ANALYZER_VERSION,
    AUDIO_SILENT,
    DIFFERENT_PERSON,
    LOOKING_AWAY,
    NO_FACE,
    POOR_VIDEO,
    ROLES,
    SEVERAL_FACES,
    VideoUnreadable,
)
from app.flags.looking import Looker, Seen
from app.flags.smoothing import stretches
from app.flags.thresholds import Thresholds
from app.flags.video import Recording, read_ahead

__all__ = ["Analysis", "FoundFlag", "VideoUnreadable", "analyze"]


@dataclass(frozen=True, slots=True)
class FoundFlag:
    kind: str
    start_s: float
    end_s: float
    value: float | None
    detail: dict[str, Any]

    @property
    def source(self) -> str:
        """What found it (risk.FlagLike): the recording, beside B's live stills and events."""
        return "recording"


@dataclass(frozen=True, slots=True)
class Analysis:
    duration_s: float
    samples: int
    flags: list[FoundFlag]
    analyzer_version: str
    # Added beside the contract's fields: whether the file had a sound track (without one, no audio_silent).
    has_audio: bool = True
    # How many samples needed an embedding (the costly step; see docs/flags.md).
    embeddings: int = 0


def analyze(
    source: Path,
    *,
    role: str,
    engine: FaceEngine,
    reference: np.ndarray | None,
    thresholds: Thresholds,
    progress: Callable[[float], None] | None = None,
) -> Analysis:
    """Flags of one recording; raises VideoUnreadable for a file that is not a readable video."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    # Only the main phone's sound is measured (audio_silent): the aux track is not decoded at all.
    recording = Recording(source, fps=thresholds.sample_fps, sound=role == "main", progress=progress)
    looker = Looker(engine, reference if role == "main" else None, thresholds)
    seen: list[Seen] = []
    for sample in read_ahead(recording.samples()):
        seen.append(looker.look(sample.frame, sample.index / thresholds.sample_fps, repeated=sample.repeated))
    flags = _flags(seen, role, thresholds, recording.duration_s, engine.spec.threshold)
    if role == "main" and recording.levels is not None:
        flags += _silences(recording.levels, thresholds, recording.duration_s)
    flags.sort(key=lambda flag: (flag.start_s, flag.kind))
    return Analysis(
        duration_s=recording.duration_s,
        samples=len(seen),
        flags=flags,
        analyzer_version=ANALYZER_VERSION,
        has_audio=recording.has_sound,
        embeddings=looker.embeddings,
    )


def _flags(seen: Sequence[Seen], role: str, limits: Thresholds, duration_s: float, match: float) -> list[FoundFlag]:
    step = 1 / limits.sample_fps
    found: list[FoundFlag] = []

    def add(kind: str, hits: list[bool], min_seconds: float, describe: Callable[[list[Seen]], tuple[float | None, dict[str, Any]]], k: int = 1, n: int = 1) -> None:
        for start, end in stretches(hits, step_s=step, min_seconds=min_seconds, k=k, n=n, end_s=duration_s):
            inside = list(seen[round(start / step) : round(end / step + 0.499)])
            value, detail = describe(inside)
            found.append(FoundFlag(kind, start, end, value, detail))

    found_faces = lambda s: (float(max(x.faces for x in s)), {"max_faces": max(x.faces for x in s)})  # noqa: E731
    add(SEVERAL_FACES, [s.faces >= 2 for s in seen], 0.0, found_faces, limits.several_faces_k, limits.several_faces_n)
    if role == "main":
        add(NO_FACE, [s.faces == 0 for s in seen], limits.no_face_seconds, lambda s: (None, {}))
        add(
            DIFFERENT_PERSON,
            [s.faces == 1 and s.similarity is not None and s.similarity < match for s in seen],
            limits.different_person_seconds,
            lambda s: _similarity(s, match),
        )
        add(LOOKING_AWAY, [s.pose is not None and s.pose.away(limits) for s in seen], limits.looking_away_seconds, _pose)
    poor = [_poor(s, role, limits) for s in seen]
    add(POOR_VIDEO, [bool(p) for p in poor], limits.poor_video_seconds, lambda s: _poor_detail(s, role, limits))
    return found


def _poor(seen: Seen, role: str, limits: Thresholds) -> list[str]:
    picture = seen.picture
    reasons = [
        name
        for name, bad in (
            ("dark", picture.dark(limits)),
            ("covered", picture.covered(limits)),
            ("blurred", role == "main" and picture.blurred(limits)),
            ("frozen", picture.frozen(limits)),
        )
        if bad
    ]
    return reasons


def _poor_detail(inside: list[Seen], role: str, limits: Thresholds) -> tuple[float | None, dict[str, Any]]:
    counts: dict[str, int] = {}
    for seen in inside:
        for reason in _poor(seen, role, limits):
            counts[reason] = counts.get(reason, 0) + 1
    luma = statistics.fmean(s.picture.luma for s in inside)
    return round(luma, 1), {"samples": counts, "mean_luma": round(luma, 1)}


def _similarity(inside: list[Seen], match: float) -> tuple[float | None, dict[str, Any]]:
    values = [s.similarity for s in inside if s.similarity is not None]
    mean = round(statistics.fmean(values), 4) if values else None
    return mean, {"threshold": match, "min_similarity": round(min(values), 4) if values else None}


def _pose(inside: list[Seen]) -> tuple[float | None, dict[str, Any]]:
    poses = [s.pose for s in inside if s.pose is not None]
    yaw = statistics.median(p.yaw for p in poses) if poses else 0.0
    pitch = statistics.median(p.pitch for p in poses) if poses else 0.0
    return round(abs(yaw), 3), {"yaw": round(yaw, 3), "pitch": round(pitch, 3)}


def _silences(levels: list[float], limits: Thresholds, duration_s: float) -> list[FoundFlag]:
    hits = [level < limits.audio_floor_dbfs for level in levels]
    flags = []
    for start, end in stretches(hits, step_s=1.0, min_seconds=limits.audio_silent_seconds, end_s=duration_s):
        loudest = max(levels[int(start) : int(end + 0.999)])
        flags.append(FoundFlag(AUDIO_SILENT, start, end, round(loudest, 1), {"floor_dbfs": limits.audio_floor_dbfs}))
    return flags
