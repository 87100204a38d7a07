"""How often a phone PATCHes while recording, in Chromium: MediaRecorder stores a chunk every 2 s, and the uploader
sends the first at once, then at most one PATCH every 10 s carrying every chunk stored since; after the stop the
rest goes at once. The server's file is as long as what the phone recorded, and plays."""

from __future__ import annotations

import time
from typing import Any

from tests.e2e import flows
from tests.e2e.recordings import probe, recording_files, require_uploads
from tests.e2e.support import E2EServer, Ops

EVERY_S = 10  # clients/common/uploader.js PATCH_EVERY_MS
def until(page: Any, check: Any, timeout: float, what: str) -> None:
    """Wait through the page (its request events are delivered only while Playwright runs)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        page.wait_for_timeout(100)


class Patches:
    """The page's PATCHes with bytes, in order: (monotonic time, Upload-Offset, declares the length)."""

    def __init__(self, page: Any) -> None:
        self.sent: list[tuple[float, int, bool]] = []
        page.on("request", self._seen)

    def _seen(self, request: Any) -> None:
        if request.method == "PATCH" and "/api/v1/uploads/" in request.url:
            headers = request.headers
            self.sent.append((time.monotonic(), int(headers.get("upload-offset", "-1")), "upload-length" in headers))


def test_a_recording_phone_patches_every_ten_seconds_with_the_chunks_since_and_the_rest_at_the_stop(server: E2EServer, ops: Ops, phone) -> None:
    require_uploads(server)
    _, session, candidate = flows.exam_with_mock(ops, server, answer_seconds=120)
    main, aux = phone(), phone()
    flows.to_ready(main, aux, server, candidate, session["id"])
    patches = Patches(main)
    flows.to_recording(main, aux, server, session)
    started = time.monotonic()
    sitting_id = candidate.sitting(session["id"])["id"]

    # 25 s of recording: about 12 chunks stored, and no more than one PATCH per 10 s, the first at once.
    until(main, lambda: len(patches.sent) >= 3, 40, "three PATCHes while recording")
    sent = list(patches.sent)
    assert sent[0][0] - started < 6, sent
    gaps = [b[0] - a[0] for a, b in zip(sent, sent[1:])]
    assert all(gap >= EVERY_S - 0.5 for gap in gaps), gaps
    offsets = [offset for _, offset, _ in sent]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets), offsets
    stored = main.evaluate("async (key) => (await import('/common/store.js')).countChunks(key)", f"main:{sitting_id}")
    assert stored >= 2 * len(sent), (stored, sent)  # each PATCH after the first carried several chunks

    # Right after a PATCH, the answer ends: the rest goes at once, not a PATCH period later.
    count = len(patches.sent)
    until(main, lambda: len(patches.sent) > count, 15, "the next PATCH")
    last_regular = patches.sent[-1][0]
    server.clock.set(flows.answer_ends(session))
    until(main, lambda: any(declares for _, _, declares in patches.sent), 15, "the PATCH with the length")
    final = next(at for at, _, declares in patches.sent if declares)
    assert final - last_regular < EVERY_S - 3, (final - last_regular, patches.sent)
    for page in (main, aux):
        page.wait_for_selector("[data-test=upload-done]", timeout=60000)

    total = main.evaluate("async (key) => (await import('/common/store.js')).getRecording(key).then((r) => r.totalLength)", f"main:{sitting_id}")
    on_server = recording_files(server, sitting_id)["main"]
    assert on_server.stat().st_size == total
    assert probe(on_server)["video_frames"] > 0
