"""Small real recordings for tests: VP8 + Opus in WebM, as a phone's MediaRecorder makes them (encoded by PyAV)."""

from __future__ import annotations

import io
from fractions import Fraction

import av
import numpy as np


def webm(seconds: float = 3.0, fps: int = 10, size: tuple[int, int] = (64, 48), *, live: bool = False) -> bytes:
    """`live`: written as MediaRecorder streams it — no duration, no cues, clusters of unknown size."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="webm", options={"live": "1"} if live else {}) as container:
        video = container.add_stream("libvpx", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        audio = container.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        frames = int(seconds * fps)
        for i in range(frames):
            image = np.full((size[1], size[0], 3), (i * 7) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            container.mux(video.encode(frame))
        samples = 960
        for i in range(int(seconds * 48000 / samples)):
            chunk = av.AudioFrame.from_ndarray(np.zeros((1, samples), dtype=np.float32), format="flt", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = 48000, i * samples, Fraction(1, 48000)
            container.mux(audio.encode(chunk))
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    return out.getvalue()
