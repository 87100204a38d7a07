"""What one sample says, measured on the detection-size picture: light, contrast, sharpness, change, head pose;
and how loud each second of sound is."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from app.flags.thresholds import Thresholds

# Loudness is judged on 50 ms blocks: short enough that a word lifts its second, long enough to smooth clicks. Sound
# that is not planar float (what Opus and AAC decode to, measured at their own rate) is resampled to this rate.
AUDIO_RATE = 16_000
SILENCE_DBFS = -120.0


@dataclass(frozen=True, slots=True)
class Picture:
    luma: float  # mean, 0-255
    contrast: float  # standard deviation of luma
    sharpness: float  # variance of the Laplacian, the pixel noise smoothed away first
    change: float | None  # share of pixels whose luma moved by more than the frozen level (None: the first sample)

    def dark(self, limits: Thresholds) -> bool:
        return self.luma < limits.dark_luma

    def covered(self, limits: Thresholds) -> bool:
        return self.contrast < limits.covered_contrast

    def blurred(self, limits: Thresholds) -> bool:
        # A dark or covered picture is not also called blurred: it says nothing about the focus.
        return self.sharpness < limits.blur_sharpness and not self.dark(limits) and not self.covered(limits)

    def frozen(self, limits: Thresholds) -> bool:
        return self.change is not None and self.change < limits.frozen_share

    def poor(self, limits: Thresholds) -> bool:
        """Too poor to judge a face by (its similarity is left out)."""
        return self.dark(limits) or self.covered(limits) or self.blurred(limits)


def measure(grey: np.ndarray, previous: np.ndarray | None, level: int) -> Picture:
    mean, deviation = cv2.meanStdDev(grey)
    # Sensor noise alone gives a high Laplacian variance (a defocused lens blurs the scene, not the noise added after
    # it): a one-pixel Gaussian takes the noise out and leaves the edges of a focused picture.
    sharpness = float(cv2.Laplacian(cv2.GaussianBlur(grey, (0, 0), 1.0), cv2.CV_32F).var())
    change = None
    if previous is not None and previous.shape == grey.shape:
        change = float(np.count_nonzero(cv2.absdiff(grey, previous) > level)) / grey.size
    return Picture(float(mean[0, 0]), float(deviation[0, 0]), sharpness, change)


@dataclass(frozen=True, slots=True)
class Pose:
    """Head pose from the five landmarks, in the face's own frame (the eye line horizontal, so a tilted head or a
    turned phone does not count): ``yaw`` is the nose tip's offset from the eyes' middle along the eye line, in eye
    distances (0 facing the camera; the nose's depth makes it ~0.4·tan(angle)); ``pitch`` is the nose tip's height
    between the eyes' line (0) and the mouth's (1), ~0.5 facing the camera, smaller looking up, larger looking down."""

    yaw: float
    pitch: float

    def away(self, limits: Thresholds) -> bool:
        return (
            abs(self.yaw) >= limits.looking_away_yaw
            or self.pitch <= limits.looking_away_pitch_up
            or self.pitch >= limits.looking_away_pitch_down
        )


def head_pose(landmarks: np.ndarray) -> Pose | None:
    """From landmarks in the ArcFace order (eye, eye, nose, mouth corner, mouth corner); None when degenerate."""
    points = landmarks.astype(np.float64)
    eyes = (points[0] + points[1]) / 2
    mouth = (points[3] + points[4]) / 2
    axis = points[1] - points[0]
    distance = float(np.hypot(*axis))
    if distance < 1e-6:
        return None
    along = axis / distance
    across = np.array([-along[1], along[0]])
    if float(np.dot(mouth - eyes, across)) < 0:
        across = -across  # the mouth is "down" in the face's frame, whichever way the picture was turned
    nose = points[2] - eyes
    drop = float(np.dot(mouth - eyes, across))
    if drop < 1e-6:
        return None
    return Pose(yaw=float(np.dot(nose, along)) / distance, pitch=float(np.dot(nose, across)) / drop)


class Loudness:
    """Level per second (dBFS of its loudest 50 ms block) of mono float samples at ``rate``, fed in any pieces.

    Pieces are gathered to about a second before they are measured: a phone's Opus track comes in 20 ms packets, and
    measuring each on its own costs more than decoding it."""

    def __init__(self, rate: int = AUDIO_RATE) -> None:
        self.rate = rate
        self.levels: list[float] = []
        self._block = rate // 20
        self._carry = np.zeros(0, np.float32)
        self._pending: list[np.ndarray] = []
        self._pending_count = 0
        self._position = 0  # samples measured so far (blocks start here)

    def feed(self, samples: np.ndarray, at_s: float | None = None) -> None:
        if at_s is not None:
            start = round(at_s * self.rate)
            if start > self._position + len(self._carry) + self._pending_count + self.rate // 10:
                # A gap in the stream (nothing recorded): those seconds are silent, not skipped.
                self._flush()
                self._position = start
        self._pending.append(samples.astype(np.float32, copy=False))
        self._pending_count += len(samples)
        if self._pending_count >= self.rate:
            self._measure()

    def _measure(self) -> None:
        data = np.concatenate((self._carry, *self._pending))
        self._pending, self._pending_count = [], 0
        whole = len(data) // self._block * self._block
        if whole:
            blocks = data[:whole].reshape(-1, self._block)
            rms = np.sqrt(np.mean(np.square(blocks, dtype=np.float64), axis=1))
            for i, value in enumerate(rms):
                self._put((self._position + i * self._block) // self.rate, value)
            self._position += whole
        self._carry = data[whole:]

    def _flush(self) -> None:
        self._measure()
        if len(self._carry):
            self._put(self._position // self.rate, float(np.sqrt(np.mean(np.square(self._carry, dtype=np.float64)))))
            self._position += len(self._carry)
            self._carry = np.zeros(0, np.float32)

    def _put(self, second: int, rms: float) -> None:
        level = 20 * math.log10(rms) if rms > 1e-6 else SILENCE_DBFS
        while len(self.levels) <= second:
            self.levels.append(SILENCE_DBFS)
        self.levels[second] = max(self.levels[second], level)

    def finish(self, duration_s: float) -> list[float]:
        """One level per whole or partial second of ``duration_s`` (seconds never fed are silent)."""
        self._flush()
        seconds = max(0, math.ceil(duration_s - 1e-6))
        return (self.levels + [SILENCE_DBFS] * seconds)[:seconds]
