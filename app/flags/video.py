"""Reading a recording for analysis: one streamed pass (PyAV) that yields the video frame of each sample time and
measures the sound on the way; at most the current and the previous frame are held, whatever the length."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from queue import Full, Queue
from typing import TypeVar

import av
import numpy as np
from av.audio.resampler import AudioResampler

from app.flags import VideoUnreadable
from app.flags.measures import AUDIO_RATE, Loudness


# A file whose packets end this much before the duration its header declares is truncated (encoders round the
# declared duration up by a frame or so; a track that starts late is not a missing end).
_TRUNCATED_SLACK_S = 2.0
_TRUNCATED_SHARE = 0.02


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sampled:
    index: int  # sample i stands for the time i / fps
    frame: av.VideoFrame
    repeated: bool  # the frame of the previous sample again: the stream brought no new frame since


def _why(exc: BaseException) -> str:
    # FFmpeg's words without the file name: the reason is stored and shown, a server path is nobody's business.
    return str(getattr(exc, "strerror", None) or type(exc).__name__)[:200]


class Recording:
    """``samples()`` yields the frames at 0, 1/fps, 2/fps, ... from the container's start, once; afterwards
    ``duration_s``, ``has_sound`` and ``levels`` (loudness per second; None without a sound track, or when
    ``sound`` is False: the track is then not even decoded) are known."""

    def __init__(self, source: Path, *, fps: float, sound: bool = True, progress: Callable[[float], None] | None = None) -> None:
        self._source = Path(source)
        self._fps = fps
        self._sound = sound
        self._progress = progress
        self.duration_s = 0.0
        self.has_sound = False
        self.levels: list[float] | None = None

    def samples(self) -> Iterator[Sampled]:
        try:
            stream = self._source.open("rb")
        except OSError as exc:
            raise VideoUnreadable(f"cannot open the file: {_why(exc)}") from None
        with stream:
            size = max(1, self._source.stat().st_size)
            try:
                container = av.open(stream, mode="r")
            except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as exc:
                raise VideoUnreadable(f"not a media file: {_why(exc)}") from None
            with container:
                yield from self._read(container, lambda: stream.tell() / size)

    def _read(self, container: av.container.InputContainer, position: Callable[[], float]) -> Iterator[Sampled]:
        if not container.streams.video:
            raise VideoUnreadable("no video track")
        video = container.streams.video[0]
        # Frame threads: VP8/VP9/H.264 decode on every core; the samples' work runs between frames.
        video.thread_type = "AUTO"
        self.has_sound = bool(container.streams.audio)
        audio = container.streams.audio[0] if self._sound and container.streams.audio else None
        loudness: Loudness | None = None
        resampler: AudioResampler | None = None
        origin = container.start_time / av.time_base if container.start_time is not None else None
        held: av.VideoFrame | None = None
        held_time = 0.0
        next_index = 0
        last_end = 0.0
        video_end = 0.0
        frames = 0
        reported = -1.0
        wanted = [video] if audio is None else [video, audio]
        try:
            for packet in container.demux(*wanted):
                if packet.stream is video:
                    for frame in packet.decode():
                        if frame.time is None:
                            continue
                        if origin is None:
                            origin = frame.time
                        time = frame.time - origin
                        step = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else 0.0
                        video_end = max(video_end, time + (step or 1 / 30))
                        last_end = max(last_end, video_end)
                        frames += 1
                        if held is not None:
                            # Every sample time before this frame shows the frame held until now.
                            while next_index / self._fps < time:
                                yield Sampled(next_index, held, repeated=next_index > 0 and held_time <= (next_index - 1) / self._fps)
                                next_index += 1
                        held, held_time = frame, time
                else:
                    for piece in packet.decode():
                        at = None if piece.time is None or origin is None else piece.time - origin
                        if loudness is None:
                            planar = piece.format.name == "fltp"
                            loudness = Loudness(piece.sample_rate if planar else AUDIO_RATE)
                            resampler = None if planar else AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
                        if resampler is None:
                            planes = piece.to_ndarray()  # channels × samples
                            loudness.feed(planes[0] if len(planes) == 1 else planes.mean(axis=0), at)
                        else:
                            for mono in resampler.resample(piece):
                                loudness.feed(mono.to_ndarray().reshape(-1), at)
                                at = None
                        if piece.time is not None and origin is not None:
                            last_end = max(last_end, piece.time - origin + piece.samples / piece.sample_rate)
                if self._progress is not None and (done := position()) - reported >= 0.01:
                    reported = done
                    self._progress(min(done, 1.0))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise VideoUnreadable(f"damaged data after {frames} frames: {_why(exc)}") from None
        if held is None:
            raise VideoUnreadable("no video frames")
        # FFmpeg ends a cut-off file silently at its last whole packet; only a header that declares the duration
        # (seekable WebM, MP4) tells a truncated file from a short one. Browser WebM declares none: its tail is read.
        declared = container.duration / av.time_base if container.duration else None
        if declared is not None and last_end < declared - max(_TRUNCATED_SLACK_S, _TRUNCATED_SHARE * declared):
            raise VideoUnreadable(f"truncated: the data ends at {last_end:.1f} s of the {declared:.1f} s its header declares")
        self.duration_s = round(last_end, 3)
        # The last frame shows until the video's end (sound running on past it is not sampled).
        while next_index / self._fps < video_end - 1e-6:
            yield Sampled(next_index, held, repeated=next_index > 0 and held_time <= (next_index - 1) / self._fps)
            next_index += 1
        if audio is not None:
            # A sound track without a decoded packet is a silent one.
            self.levels = (loudness or Loudness()).finish(self.duration_s)
        if self._progress is not None:
            self._progress(1.0)


def to_array(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """The frame as BGR at the given size: one libswscale pass converts and scales (the full size is never made)."""
    return frame.reformat(width=width, height=height, format="bgr24").to_ndarray()


class _Ended:
    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(items: Iterator[T], depth: int = 4) -> Iterator[T]:
    """``items`` produced on a thread of their own, at most ``depth`` ahead of the consumer: FFmpeg decodes (without
    the GIL) while the consumer's models run, instead of the two taking turns. The producer's exception is raised
    here; a consumer that stops early stops the producer and closes ``items`` on its thread."""
    queue: Queue[T | _Ended] = Queue(depth)
    stop = threading.Event()

    def put(item: T | _Ended) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.1)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_Ended())
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Ended(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()  # the producer always ends with an _Ended, unless this side stopped it first
            if isinstance(item, _Ended):
                if item.error is not None:
                    raise item.error
                return
            yield item
    finally:
        stop.set()
        thread.join()
