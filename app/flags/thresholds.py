"""Every threshold of the recording analysis, read from the settings (DUALCAM_FLAGS_*; defaults and their reasons in
docs/flags.md)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from app.config import Settings


@dataclass(frozen=True, slots=True)
class Thresholds:
    sample_fps: float = 1.0
    # Frames are shrunk to this longer side before face detection (YuNet's cost grows with the area).
    detect_side: int = 320
    # A detection below this score is not counted as a face (YuNet's own cut is 0.7; a desk's clutter reaches it).
    face_score: float = 0.75
    no_face_seconds: float = 3.0
    # several_faces: two or more faces in at least k of n consecutive samples.
    several_faces_k: int = 2
    several_faces_n: int = 3
    different_person_seconds: float = 3.0
    # The same face, tracked from sample to sample, is embedded again after this long (or when its match was in doubt).
    embed_interval_seconds: float = 3.0
    looking_away_seconds: float = 5.0
    # Head pose from the five landmarks (app.flags.measures.head_pose): nose offset from the eyes' middle along the
    # eye line, in eye distances (~0.30 is a head turned ~35-40 degrees); nose height between the eyes and the mouth
    # (0 at the eyes, 1 at the mouth; ~0.5 facing the camera).
    looking_away_yaw: float = 0.30
    looking_away_pitch_up: float = 0.25
    looking_away_pitch_down: float = 0.85
    poor_video_seconds: float = 10.0
    # Mean luma (0-255) below this: too dark.
    dark_luma: float = 35.0
    # Luma standard deviation below this: the lens is covered (a uniform picture, dark or not).
    covered_contrast: float = 6.0
    # Variance of the Laplacian of the detection-size picture (its noise smoothed away) below this: blurred. Focused
    # desk scenes measure ~30-40, a defocused one ~2.
    blur_sharpness: float = 6.0
    # Frozen: under this share of the pixels changed by more than frozen_level (0-255) since the previous sample.
    # Sensor noise alone changes several percent of them; an encoder refining a still picture changes almost none
    # by more than 2 levels.
    frozen_level: int = 3
    frozen_share: float = 0.005
    audio_silent_seconds: float = 60.0
    # The loudest 50 ms of a second below this level (dB full scale): that second is silent.
    audio_floor_dbfs: float = -60.0

    @classmethod
    def of(cls, settings: Settings) -> Thresholds:
        return cls(**{field.name: getattr(settings, f"flags_{field.name}") for field in fields(cls)})
