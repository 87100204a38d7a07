"""Recordings made for the flags tests and bench: a desk scene built from tests/data/faces, encoded with PyAV the
way the phones record (VP8 + Opus in WebM by default), stretch by stretch.

Every live stretch has what a phone camera and microphone give: a little movement, sensor noise and room sound with
speech-like bursts, so that a clean stretch is neither frozen nor silent.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np

FACES = Path(__file__).resolve().parents[1] / "data" / "faces"
AUDIO_RATE = 48_000

# What each stretch shows: the candidate (person_a_1), somebody else, two people, nobody, and bad pictures.
SCENES = ("person", "impostor", "two", "nobody", "dark", "frozen", "blurred", "covered", "away")


@dataclass(frozen=True)
class Stretch:
    seconds: float
    scene: str = "person"
    sound: bool = True  # False: digital silence (a muted microphone)


@cache
def _photo(name: str) -> np.ndarray:
    image = cv2.imread(str(FACES / f"{name}.jpg"))
    if image is None:
        raise FileNotFoundError(name)
    return image


@cache
def _desk(width: int, height: int) -> np.ndarray:
    """A room behind a desk: a wall gradient, a shelf, a window; fixed, so only the person and the noise move."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    wall = 150 + 40 * (x / width) - 30 * (y / height)
    scene = np.dstack([wall * 0.9, wall * 0.95, wall]).astype(np.float32)
    scene[int(height * 0.78) :, :] = (60, 90, 120)  # the desk
    cv2.rectangle(scene, (int(width * 0.05), int(height * 0.1)), (int(width * 0.25), int(height * 0.45)), (210, 220, 230), -1)
    cv2.rectangle(scene, (int(width * 0.75), int(height * 0.2)), (int(width * 0.95), int(height * 0.3)), (40, 60, 90), -1)
    scene += rng.normal(0, 6, scene.shape).astype(np.float32)  # texture
    return np.clip(scene, 0, 255).astype(np.uint8)


def _place(canvas: np.ndarray, photo: np.ndarray, centre_x: float, top: float, box_height: float) -> None:
    scale = box_height / photo.shape[0]
    part = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    h, w = part.shape[:2]
    x0, y0 = int(centre_x - w / 2), int(top)
    x1, y1 = min(canvas.shape[1], x0 + w), min(canvas.shape[0], y0 + h)
    xs, ys = max(0, x0), max(0, y0)
    canvas[ys:y1, xs:x1] = part[ys - y0 : y1 - y0, xs - x0 : x1 - x0]


@cache
def _turned_head(name: str) -> np.ndarray:
    """The portrait with its head turned ~50 degrees: the face wrapped round a cylinder and rotated on it, so the far
    eye comes close to the nose as on a turned head (YuNet then puts the nose ~0.5 eye distances off the eyes'
    middle). The portraits are centred, with the eyes ~0.16 of the width apart."""
    photo = _photo(name)
    h, w = photo.shape[:2]
    centre, radius, angle = w / 2, 0.16 * w, 0.9
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    phi = np.arcsin(np.clip((x - centre) / radius, -1, 1)) - angle
    inside = (np.abs(x - centre) < radius * 0.999) & (np.abs(phi) < np.pi / 2)
    source = np.where(inside, centre + radius * np.sin(phi), x).astype(np.float32)
    return cv2.remap(photo, source, y, cv2.INTER_LINEAR)


def scene_frame(scene: str, t: float, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    canvas = _desk(width, height).copy()
    # Breathing and small shifts: a person is never still.
    dx = 4 * math.sin(2 * math.pi * t / 3.7) * width / 640
    dy = 3 * math.sin(2 * math.pi * t / 5.3) * height / 480
    size = height * (0.62 + 0.01 * math.sin(2 * math.pi * t / 4.1))
    if scene in ("person", "dark", "blurred", "covered", "frozen"):
        _place(canvas, _photo("person_a_1"), width / 2 + dx, height * 0.12 + dy, size)
    elif scene == "impostor":
        _place(canvas, _photo("impostor_1"), width / 2 + dx, height * 0.12 + dy, size)
    elif scene == "away":
        _place(canvas, _turned_head("person_a_1"), width / 2 + dx, height * 0.12 + dy, size)
    elif scene == "two":
        _place(canvas, _photo("person_a_1"), width * 0.3 + dx, height * 0.2 + dy, size * 0.7)
        _place(canvas, _photo("impostor_2"), width * 0.72 - dx, height * 0.22, size * 0.65)
    frame = canvas.astype(np.float32)
    if scene == "dark":
        frame *= 0.08
    elif scene == "blurred":
        frame = cv2.GaussianBlur(frame, (0, 0), 6)
    elif scene == "covered":
        frame[:] = 18  # a finger over the lens: dark and uniform
    frame += _noise(width, height)[int(rng.integers(_NOISE_FRAMES))]
    return np.clip(frame, 0, 255).astype(np.uint8)


_NOISE_FRAMES = 24


@cache
def _noise(width: int, height: int) -> np.ndarray:
    """Sensor noise (sigma 2.5 levels): a bank drawn once, one picked per frame (drawing per frame is the slow part)."""
    return np.random.default_rng(11).normal(0, 2.5, (_NOISE_FRAMES, height, width, 3)).astype(np.float32)


def _sound(t0: float, count: int, audible: bool, rng: np.random.Generator) -> np.ndarray:
    if not audible:
        return np.zeros(count, np.float32)
    t = t0 + np.arange(count) / AUDIO_RATE
    # Room noise around -45 dBFS and a voice-like tone in bursts (a syllable every ~0.3 s, pauses between words).
    noise = rng.normal(0, 0.006, count)
    envelope = np.clip(np.sin(2 * np.pi * t / 0.31), 0, 1) * (np.sin(2 * np.pi * t / 2.3) > -0.3)
    voice = 0.1 * envelope * np.sin(2 * np.pi * (180 + 40 * np.sin(2 * np.pi * t)) * t)
    return (noise + voice).astype(np.float32)


def frames(stretches: Sequence[Stretch], *, fps: float, width: int, height: int, seed: int = 1) -> Iterator[tuple[float, np.ndarray]]:
    rng = np.random.default_rng(seed)
    start = 0.0
    index = 0
    for stretch in stretches:
        end = start + stretch.seconds
        still: np.ndarray | None = None
        while index / fps < end - 1e-9:
            t = index / fps
            if stretch.scene == "frozen":
                still = scene_frame("person", start, width, height, rng) if still is None else still
                yield t, still
            else:
                yield t, scene_frame(stretch.scene, t, width, height, rng)
            index += 1
        start = end


def write(
    path: Path,
    stretches: Sequence[Stretch],
    *,
    fps: float = 15,
    size: tuple[int, int] = (640, 480),
    codec: str = "libvpx",
    audio: bool = True,
    turn: int = 0,
    display_rotation: int | None = None,
    bit_rate: int = 1_000_000,
) -> Path:
    """Encode the stretches into ``path`` (the container from its suffix). ``turn`` rotates every picture clockwise
    (a phone held sideways); ``display_rotation`` writes a display matrix that turns it back (MP4 phones do)."""
    width, height = size
    audio_codec = "libopus" if path.suffix == ".webm" else "aac"
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        video = container.add_stream(codec, rate=rate)
        shown = (height, width) if turn in (90, 270) else (width, height)
        video.width, video.height = shown
        video.pix_fmt = "yuv420p"
        video.bit_rate = bit_rate
        if codec in ("libvpx", "libvpx-vp9"):
            video.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
        elif codec == "libx264":
            video.options = {"preset": "ultrafast"}
        if display_rotation is not None:
            video.set_display_rotation(display_rotation)
        sound = container.add_stream(audio_codec, rate=AUDIO_RATE, layout="mono") if audio else None
        rng = np.random.default_rng(3)
        timeline = [(s.seconds, s.sound) for s in stretches]
        written = 0
        codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
        for index, (t, picture) in enumerate(frames(stretches, fps=fps, width=width, height=height)):
            if turn:
                picture = cv2.rotate(picture, codes[turn])
            frame = av.VideoFrame.from_ndarray(picture, format="bgr24")
            frame.pts = index
            frame.time_base = 1 / rate
            container.mux(video.encode(frame))
            if sound is not None:
                until = round((index + 1) / fps * AUDIO_RATE)
                written = _audio(container, sound, timeline, written, until, rng)
        container.mux(video.encode())
        if sound is not None:
            container.mux(sound.encode())
    return path


def _audio(container: av.container.OutputContainer, stream: av.AudioStream, timeline: list[tuple[float, bool]], written: int, until: int, rng: np.random.Generator) -> int:
    step = 960
    while written + step <= until:
        t0 = written / AUDIO_RATE
        edge = 0.0
        audible = True
        for seconds, sound in timeline:
            if t0 < edge + seconds:
                audible = sound
                break
            edge += seconds
        samples = _sound(t0, step, audible, rng)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = written
        frame.time_base = Fraction(1, AUDIO_RATE)
        container.mux(stream.encode(frame))
        written += step
    return written
