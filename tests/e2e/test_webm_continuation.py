"""The recording pipeline's WebM pass (clients/common/webm.js) on real MediaRecorder output in Chromium:

- stored chunks always end on an element boundary (MediaRecorder cuts its timeslices anywhere, even in a frame);
- a second recorder started after a "reload" continues the same file: its header is dropped and its timeline
  shifted, so PyAV reads one file whose timestamps cover both parts with the gap between them.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import av

from tests.e2e.support import E2EServer

RECORD = """
async ([firstMs, gapMs, secondMs]) => {
  const { WebmStream } = await import("/common/webm.js");
  const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  const mime = "video/webm;codecs=vp8,opus";
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  async function record(ms, webm, cuts, out) {
    const recorder = new MediaRecorder(stream, { mimeType: mime, videoBitsPerSecond: 600000 });
    let queue = Promise.resolve();
    recorder.ondataavailable = (e) => {
      queue = queue.then(async () => {
        const bytes = webm.push(new Uint8Array(await e.data.arrayBuffer()));
        if (bytes.length) { out.push(bytes); cuts.push(out.reduce((n, b) => n + b.length, 0)); }
      });
    };
    const stopped = new Promise((r) => (recorder.onstop = r));
    recorder.start(500);
    await sleep(ms);
    recorder.stop();
    await stopped;
    await queue;
  }

  const out = [];
  const cuts = [];
  const first = new WebmStream();
  await record(firstMs, first, cuts, out);
  // A "reload": the first recorder's unfinished tail is lost, like a page that went away mid-chunk.
  const heldBack = first.pending.length;
  await sleep(gapMs);
  const second = new WebmStream({ continuation: true, offsetMs: firstMs + gapMs, tracks: first.tracks });
  await record(secondMs, second, cuts, out);
  out.push(second.flush());
  const all = new Uint8Array(out.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of out) { all.set(b, at); at += b.length; }
  let binary = "";
  for (let i = 0; i < all.length; i += 0x8000) binary += String.fromCharCode(...all.subarray(i, i + 0x8000));
  stream.getTracks().forEach((t) => t.stop());
  return { data: btoa(binary), cuts, heldBack, firstLast: first.lastTimecodeMs, secondLast: second.lastTimecodeMs };
}
"""


def element_starts(data: bytes) -> set[int]:
    """Offsets where a top-level, Segment-level or Cluster-level element starts (a flat walk of a live WebM)."""
    masters = {0x18538067, 0x1F43B675}
    starts, pos = set(), 0
    while pos < len(data):
        starts.add(pos)
        first = data[pos]
        id_len = 1 + next(i for i in range(4) if first & (0x80 >> i))
        element = int.from_bytes(data[pos : pos + id_len], "big")
        size_first = data[pos + id_len]
        size_len = 1 + next(i for i in range(8) if size_first & (0x80 >> i))
        raw = int.from_bytes(data[pos + id_len : pos + id_len + size_len], "big") & ((1 << (7 * size_len)) - 1)
        unknown = raw == (1 << (7 * size_len)) - 1
        pos += id_len + size_len + (0 if element in masters or unknown else raw)
    return starts


def probe(data: bytes) -> dict[str, Any]:
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        times, frames = [], 0
        for packet in container.demux(video):
            if packet.pts is None:
                continue
            times.append(float(packet.pts * packet.time_base))
            frames += len(packet.decode())
    with av.open(io.BytesIO(data)) as container:
        audio = [float(p.pts * p.time_base) for p in container.demux(container.streams.audio[0]) if p.pts is not None and p.decode() is not None]
    return {"times": times, "frames": frames, "audio": audio}


def test_chunks_end_on_elements_and_a_continuation_is_one_playable_file(server: E2EServer, phone) -> None:
    page = phone()
    page.goto(f"{server.url}/main/")
    result = page.evaluate(RECORD, [3000, 2000, 3000])
    data = base64.b64decode(result["data"])

    starts = element_starts(data)
    assert all(cut in starts or cut == len(data) for cut in result["cuts"]), "a stored chunk ends inside an element"
    assert data[:4] == bytes.fromhex("1a45dfa3") and data.count(bytes.fromhex("1a45dfa3")) == 1  # one file, one header

    found = probe(data)
    times = found["times"]
    assert times == sorted(times), "timestamps go backwards"
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert 1.2 < max(gaps) < 3.5, max(gaps)  # the "reload" shows as a gap, not as a restart at zero
    assert times[0] < 0.3 and 7.3 < times[-1] < 8.6, (times[0], times[-1])
    assert found["frames"] >= 0.9 * len(times)  # every part decodes (no garbage at the seam)
    assert found["audio"] == sorted(found["audio"]) and found["audio"][-1] > 7.3  # the sound continues too
    assert 4900 < result["secondLast"] < 8600
