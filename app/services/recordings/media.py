"""What a recording holds, read with PyAV: container, streams, and the duration counted from packets.

Browser WebM (MediaRecorder) has no duration in its header, so the duration is the span of the packets' timestamps.
Runs in a worker thread (it reads the whole file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av


class MediaUnreadable(Exception):
    """The file is not a playable recording; `reason` says why (stored and shown to ops)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MediaInfo:
    container: str
    duration_seconds: float
    streams: list[dict[str, Any]]
    packets: int
    # Set when demuxing stopped early on damaged data after playable packets (e.g. a phone killed mid-write).
    damaged_tail: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"container": self.container, "streams": self.streams, "packets": self.packets, "damaged_tail": self.damaged_tail}


def _why(exc: Exception) -> str:
    """FFmpeg's own words without the file name (a server path is no business of a phone's)."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__)[:200]


def probe(path: Path) -> MediaInfo:
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaUnreadable(f"not a media file: {_why(exc)}") from None
    with container:
        streams = {s.index: {"type": s.type, "codec": s.codec_context.name if s.codec_context else None, "packets": 0} for s in container.streams}
        if not any(s["type"] == "video" for s in streams.values()):
            raise MediaUnreadable("no video stream")
        first: float | None = None
        last = 0.0
        packets = 0
        damaged: str | None = None
        try:
            for packet in container.demux():
                if packet.pts is None or packet.time_base is None:
                    continue  # the demuxer's end-of-stream flush packets
                start = float(packet.pts * packet.time_base)
                end = start + float((packet.duration or 0) * packet.time_base)
                first = start if first is None else min(first, start)
                last = max(last, end)
                streams[packet.stream.index]["packets"] += 1
                packets += 1
        except (av.FFmpegError, OSError, ValueError) as exc:
            if packets == 0:
                raise MediaUnreadable(f"no readable packets: {_why(exc)}") from None
            damaged = _why(exc)
        video_packets = sum(s["packets"] for s in streams.values() if s["type"] == "video")
        if video_packets == 0 or first is None:
            raise MediaUnreadable("no video frames")
        return MediaInfo(
            container=container.format.name,
            duration_seconds=round(max(0.0, last - first), 3),
            streams=list(streams.values()),
            packets=packets,
            damaged_tail=damaged,
        )
