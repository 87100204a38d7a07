"""The server's side of the recordings: are they verified, where are their bytes, what PyAV reads in them.

Verified: the sitting is `uploaded` (both recordings verified — the public contract). The bytes: the tus upload
rows of the sitting (their subject/owner names the sitting and role) and the local store's files under the
server's data directory.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import av
import httpx

from tests.e2e.support import E2EServer


def require_uploads(server: E2EServer) -> None:
    """The recording tests need the tus server at /api/v1/uploads/: without it they fail here, with the reason."""
    answer = httpx.options(f"{server.url}/api/v1/uploads/")
    assert answer.status_code == 204 and answer.headers.get("Tus-Version") == "1.0.0", f"no tus server at /api/v1/uploads/: {answer.status_code}"


def recording_files(server: E2EServer, sitting_id: str) -> dict[str, Path]:
    """role → the file of the finished upload that carries the sitting's recording now (a recording sent again after
    a failed verification has an older, failed upload too: that one is left out)."""
    with closing(sqlite3.connect(server.data_dir / "dualcam.sqlite3")) as db:
        rows = db.execute(
            "SELECT owner, subject, storage_key, id FROM tus_uploads WHERE finished_at IS NOT NULL AND gone_at IS NULL"
        ).fetchall()
        current = {upload_id for (upload_id,) in db.execute("SELECT upload_id FROM recordings")}
    files: dict[str, Path] = {}
    for owner, subject, key, upload_id in rows:
        names = f"{owner} {subject or ''}"
        if sitting_id not in names or upload_id not in current:
            continue
        role = "main" if "main" in names else "aux" if "aux" in names else None
        (path,) = [p for p in server.data_dir.rglob(Path(key).name) if p.is_file() and str(p).endswith(key)]
        if role:
            files[role] = path
    return files


def download(server: E2EServer, url: str, target: Path) -> Path:
    """A recording as a reviewer's player gets it: through the short-lived signed link ops hand out."""
    with httpx.stream("GET", f"{server.url}{url}", timeout=30) as response:
        assert response.status_code == 200, response.status_code
        with target.open("wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)
    return target


def probe(path: Path) -> dict[str, Any]:
    """Timeline of a recording as a player sees it: packets' times per stream, decoded video frames."""
    starts, ends, times = [], [], []
    video_frames = audio_packets = 0
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.pts is None:
                continue
            start = float(packet.pts * packet.time_base)
            end = start + float((packet.duration or 0) * packet.time_base)
            starts.append(start)
            ends.append(end)
            if packet.stream.type == "video":
                times.append(start)
                video_frames += len(packet.decode())
            elif packet.stream.type == "audio":
                audio_packets += 1
    times.sort()
    return {
        "duration": max(ends),
        "first": min(starts),
        "last": max(starts),
        "video_frames": video_frames,
        "audio_packets": audio_packets,
        "max_gap": max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0),
    }
